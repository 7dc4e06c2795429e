# Builds and runs a tiny consumer project the way a user's project would use
# errand, in a CMake run of its own. Run with cmake -P and:
#   MODE             find_package: install errand from ERRAND_BINARY_DIR into a
#                    prefix, move the prefix, and point the consumer at the new
#                    place with CMAKE_PREFIX_PATH alone.
#                    unknown_component: as find_package, asking for a component
#                    errand does not have; configuring must fail and say so.
#                    test_package: as find_package, for the Conan recipe's
#                    test_package (its CMake project and source, without Conan).
#                    add_subdirectory: the consumer adds ERRAND_SOURCE_DIR.
#   WORK_DIR         scratch directory, emptied first
#   CONSUMER_DIR     the consumer's source directory
#   COMPONENTS       comma-separated components the consumer must get
#   GENERATOR, BUILD_TYPE   as the enclosing build
#   TREE_SETTINGS    a file written by the enclosing build (tests/consumer/CMakeLists.txt):
#                    tree_<variable> for each name in tree_settings (compiler, toolchain
#                    file, flags, CMAKE_PREFIX_PATH, ...), which the consumer gets too, and
#                    for each name in tree_dependencies (Boost_DIR, libpqxx_DIR, ...), where
#                    the tree found a dependency: the consumer must find it in the same place.
#   ERRAND_BINARY_DIR, ERRAND_SOURCE_DIR   errand's build and source trees

cmake_minimum_required(VERSION 3.25)

function(run_step description)
  message(STATUS "consumer (${MODE}): ${description}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "consumer (${MODE}): ${description} failed (${result})")
  endif()
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
string(REPLACE "," ";" wanted "${COMPONENTS}")

include("${TREE_SETTINGS}")

# The consumer starts from the tree's settings, given as an initial cache so
# that lists (CMAKE_PREFIX_PATH) and flags with spaces arrive intact. The
# installed modes put the moved prefix first on CMAKE_PREFIX_PATH.
# write_initial_cache(<extra prefix>...)
function(write_initial_cache)
  set(prefix_path ${ARGN} ${tree_CMAKE_PREFIX_PATH})
  set(cache "")
  foreach(variable IN LISTS tree_settings)
    if(NOT variable STREQUAL "CMAKE_PREFIX_PATH")
      string(APPEND cache "set(${variable} [==[${tree_${variable}}]==] CACHE STRING \"\")\n")
    endif()
  endforeach()
  if(prefix_path)
    string(APPEND cache "set(CMAKE_PREFIX_PATH [==[${prefix_path}]==] CACHE STRING \"\")\n")
  endif()
  file(WRITE "${WORK_DIR}/initial-cache.cmake" "${cache}")
endfunction()

# Fails unless the consumer found each dependency where the tree did.
function(check_same_dependencies)
  file(STRINGS "${WORK_DIR}/build/CMakeCache.txt" cache)
  foreach(variable IN LISTS tree_dependencies)
    set(found "(not looked up)")
    foreach(line IN LISTS cache)
      if(line MATCHES "^${variable}:[A-Z]+=(.*)$")
        set(found "${CMAKE_MATCH_1}")
      endif()
    endforeach()
    if(NOT found STREQUAL tree_${variable})
      message(FATAL_ERROR "consumer (${MODE}): ${variable} is ${found}, but the tree was built with "
                          "${tree_${variable}}: the consumer would be tested against another copy")
    endif()
  endforeach()
endfunction()

set(configure_args -S "${CONSUMER_DIR}" -B "${WORK_DIR}/build" -G "${GENERATOR}" -C "${WORK_DIR}/initial-cache.cmake"
                   "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
set(program "${WORK_DIR}/build/errand_consumer" "${WORK_DIR}")
if(NOT MODE STREQUAL "test_package")
  list(APPEND configure_args "-DERRAND_CONSUMER_COMPONENTS=${COMPONENTS}")
endif()

if(MODE MATCHES "^(find_package|unknown_component|test_package)$")
  set(staged "${WORK_DIR}/staged")
  set(moved "${WORK_DIR}/moved/prefix")
  run_step("install errand into ${staged}"
           "${CMAKE_COMMAND}" --install "${ERRAND_BINARY_DIR}" --prefix "${staged}" --component errand)
  file(MAKE_DIRECTORY "${WORK_DIR}/moved")
  file(RENAME "${staged}" "${moved}")
  # The package registry could hand the consumer errand's build tree instead.
  write_initial_cache("${moved}")
  list(APPEND configure_args -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)

  if(MODE STREQUAL "unknown_component")
    execute_process(COMMAND "${CMAKE_COMMAND}" ${configure_args} RESULT_VARIABLE result OUTPUT_VARIABLE out
                    ERROR_VARIABLE out)
    set(expected "errand has no component '${COMPONENTS}'")
    string(FIND "${out}" "${expected}" at)
    if(result EQUAL 0 OR at EQUAL -1)
      message(FATAL_ERROR "consumer (${MODE}): configuring should fail with \"${expected}\"; it said:\n${out}")
    endif()
    message(STATUS "consumer (${MODE}): configuring failed as it should: ${expected}")
    return()
  endif()

  if(MODE STREQUAL "test_package")
    foreach(backend IN ITEMS sqlite postgres)
      string(TOUPPER "${backend}" upper)
      if(backend IN_LIST wanted)
        list(APPEND configure_args "-DERRAND_TEST_${upper}=ON")
      endif()
    endforeach()
    set(program "${WORK_DIR}/build/test_package")
  endif()

  run_step("configure against the moved prefix ${moved}" "${CMAKE_COMMAND}" ${configure_args})
  file(STRINGS "${WORK_DIR}/build/CMakeCache.txt" found_at REGEX "^errand_DIR:")
  string(FIND "${found_at}" "${moved}/" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "consumer (${MODE}): errand was not found in the moved prefix: ${found_at}")
  endif()
elseif(MODE STREQUAL "add_subdirectory")
  write_initial_cache()
  list(APPEND configure_args "-DERRAND_SOURCE_DIR=${ERRAND_SOURCE_DIR}")
  foreach(backend IN ITEMS memory sqlite postgres)
    string(TOUPPER "${backend}" upper)
    if(backend IN_LIST wanted)
      list(APPEND configure_args "-DERRAND_WITH_${upper}=ON")
    else()
      list(APPEND configure_args "-DERRAND_WITH_${upper}=OFF")
    endif()
  endforeach()
  run_step("configure with add_subdirectory(${ERRAND_SOURCE_DIR})" "${CMAKE_COMMAND}" ${configure_args})
else()
  message(FATAL_ERROR "consumer: unknown MODE '${MODE}'")
endif()

check_same_dependencies()
run_step("build" "${CMAKE_COMMAND}" --build "${WORK_DIR}/build" --config "${BUILD_TYPE}")
run_step("run" ${program})
