// The sanitizer build's test programs: how ASan, UBSan and LeakSanitizer report, compiled
// in so every way of running a test (ctest, by hand, a debugger) gets the same.
// A report fails the test: ASan aborts on its first error, UBSan halts on its first
// (recoverable checks, so that tests/sanitizers/ubsan.supp can name the one finding in a
// library: RapidJSON's internal/stack.h, DEPS.md).
extern "C" {

const char* __asan_default_options() {
  return "detect_leaks=1:detect_stack_use_after_return=0:strict_string_checks=1:"
         "check_initialization_order=1:abort_on_error=0:halt_on_error=1";
}

const char* __ubsan_default_options() {
  return "print_stacktrace=1:halt_on_error=1:suppressions=" ASKD_SANITIZER_DIR "/ubsan.supp";
}

const char* __lsan_default_options() {
  return "suppressions=" ASKD_SANITIZER_DIR "/lsan.supp:print_suppressions=0";
}

}  // extern "C"
