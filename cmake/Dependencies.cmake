# Every dependency comes from Debian bookworm's packages (./dev installs them).
find_package(Threads REQUIRED)

# CAF 0.17 ships no CMake config and no .pc file.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
find_library(CAF_IO_LIBRARY caf_io REQUIRED)
add_library(CAF::core UNKNOWN IMPORTED)
set_target_properties(CAF::core PROPERTIES
  IMPORTED_LOCATION ${CAF_CORE_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR}
  INTERFACE_LINK_LIBRARIES Threads::Threads)
add_library(CAF::io UNKNOWN IMPORTED)
set_target_properties(CAF::io PROPERTIES
  IMPORTED_LOCATION ${CAF_IO_LIBRARY}
  INTERFACE_LINK_LIBRARIES CAF::core)
# The cluster's TLS (libcaf_openssl, in libcaf-dev's dependencies).
find_library(CAF_OPENSSL_LIBRARY caf_openssl REQUIRED)
find_package(OpenSSL REQUIRED)
add_library(CAF::openssl UNKNOWN IMPORTED)
set_target_properties(CAF::openssl PROPERTIES
  IMPORTED_LOCATION ${CAF_OPENSSL_LIBRARY}
  INTERFACE_LINK_LIBRARIES "CAF::io;OpenSSL::SSL")

find_package(Boost 1.81.0 REQUIRED CONFIG COMPONENTS system)

find_package(RapidJSON REQUIRED CONFIG)
add_library(rapidjson INTERFACE)
target_include_directories(rapidjson SYSTEM INTERFACE ${RAPIDJSON_INCLUDE_DIRS})
# std::string support in RapidJSON's Value API.
target_compile_definitions(rapidjson INTERFACE RAPIDJSON_HAS_STDSTRING=1)

find_package(CURL REQUIRED)

# Beast: header-only on top of Boost.System; one place sets its options.
add_library(beast INTERFACE)
target_link_libraries(beast INTERFACE Boost::headers Boost::system Threads::Threads)
target_compile_definitions(beast INTERFACE BOOST_ASIO_NO_DEPRECATED)

