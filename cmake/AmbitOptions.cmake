# Compiler settings shared by every Ambit target: warnings as errors on our own
# code, an optional sanitizer, and ccache when it is installed.

find_program(AMBIT_CCACHE ccache)
if(AMBIT_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${AMBIT_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${AMBIT_CCACHE})
endif()

add_library(ambit_options INTERFACE)
target_compile_options(ambit_options INTERFACE -Wall -Wextra -Werror -Wno-missing-field-initializers)
# GCC 12 reports Asio's coroutine frame allocator (operator new/delete with a
# size, both its own) as mismatched in some coroutines, and at -O3 (Release)
# warns -Wrestrict inside std::string's own inlined copies (GCC bug 105329):
# known false positives.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(ambit_options INTERFACE -Wno-mismatched-new-delete $<$<CONFIG:Release>:-Wno-restrict>)
endif()
target_include_directories(ambit_options INTERFACE ${PROJECT_SOURCE_DIR})
# Asio and Beast are compiled once (common/runtime/asio_impl.cc) instead of in every
# translation unit: it keeps builds on a 2-core machine bearable.
target_compile_definitions(ambit_options INTERFACE
  BOOST_ASIO_SEPARATE_COMPILATION
  BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED
  SPDLOG_FMT_EXTERNAL)

if(AMBIT_SANITIZE)
  if(AMBIT_SANITIZE STREQUAL "address")
    set(_san -fsanitize=address,undefined -fno-omit-frame-pointer)
  elseif(AMBIT_SANITIZE STREQUAL "undefined")
    set(_san -fsanitize=undefined -fno-sanitize-recover=undefined)
  elseif(AMBIT_SANITIZE STREQUAL "thread")
    set(_san -fsanitize=thread -Wno-tsan)  # GCC 12 warns on asio's atomic_thread_fence
  else()
    message(FATAL_ERROR "AMBIT_SANITIZE must be address, undefined or thread, not '${AMBIT_SANITIZE}'")
  endif()
  add_compile_options(${_san})
  add_link_options(${_san})
endif()

# ambit_add_binary(NAME SOURCES... LIBS ...) — a program installed to bin/.
function(ambit_add_binary name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ambit_options ${ARG_LIBS})
  install(TARGETS ${name} RUNTIME DESTINATION bin)
endfunction()
