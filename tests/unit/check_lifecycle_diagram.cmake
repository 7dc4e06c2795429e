# Compares the Mermaid diagram PROGRAM prints with the first ```mermaid block
# of DOC, so the lifecycle's docs cannot drift from its table. With -DUPDATE=ON
# it rewrites that block instead.
#
#   cmake -DPROGRAM=<print_lifecycle_diagram> -DDOC=docs/lifecycle.md [-DUPDATE=ON] -P check_lifecycle_diagram.cmake

foreach(required PROGRAM DOC)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "check_lifecycle_diagram: -D${required}=... is required")
  endif()
endforeach()

execute_process(COMMAND "${PROGRAM}" OUTPUT_VARIABLE generated RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "check_lifecycle_diagram: ${PROGRAM} failed: ${status}")
endif()

include("${CMAKE_CURRENT_LIST_DIR}/../../cmake/errandMarkdown.cmake")
file(READ "${DOC}" doc)
errand_next_fenced_block("${doc}" mermaid 0 body_start body_length)
if(body_start EQUAL -1)
  message(FATAL_ERROR "check_lifecycle_diagram: ${DOC} has no ```mermaid block")
endif()
if(body_length EQUAL -1)
  message(FATAL_ERROR "check_lifecycle_diagram: the ```mermaid block of ${DOC} is not closed")
endif()
string(SUBSTRING "${doc}" ${body_start} -1 rest)
string(SUBSTRING "${rest}" 0 ${body_length} documented)

if(documented STREQUAL generated)
  message(STATUS "${DOC} shows the lifecycle's table as it is")
  return()
endif()

if(UPDATE)
  string(SUBSTRING "${doc}" 0 ${body_start} before)
  string(SUBSTRING "${rest}" ${body_length} -1 after)
  file(WRITE "${DOC}" "${before}${generated}${after}")
  message(STATUS "${DOC}: diagram updated from the table")
  return()
endif()

message(FATAL_ERROR
  "${DOC} shows a lifecycle diagram that differs from the table in include/errand/lifecycle.hpp.\n"
  "Regenerate it with: cmake --build <build dir> --target update_lifecycle_diagram\n"
  "--- the table draws:\n${generated}--- the docs show:\n${documented}")
