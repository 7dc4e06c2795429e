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
#   GENERATOR, MAKE_PROGRAM, CXX_COMPILER, BUILD_TYPE   as the enclosing build
#   BUILD_TYPE_FLAGS the enclosing build's CMAKE_CXX_FLAGS_<BUILD_TYPE>
#   ERRAND_BINARY_DIR, ERRAND_SOURCE_DIR                errand's build and source trees

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

set(configure_args -S "${CONSUMER_DIR}" -B "${WORK_DIR}/build" -G "${GENERATOR}"
                   "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}")
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(BUILD_TYPE_FLAGS)
  string(TOUPPER "${BUILD_TYPE}" build_type)
  list(APPEND configure_args "-DCMAKE_CXX_FLAGS_${build_type}=${BUILD_TYPE_FLAGS}")
endif()
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
  list(APPEND configure_args "-DCMAKE_PREFIX_PATH=${moved}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)

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

run_step("build" "${CMAKE_COMMAND}" --build "${WORK_DIR}/build" --config "${BUILD_TYPE}")
run_step("run" ${program})
