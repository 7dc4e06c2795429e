# Reading fenced code blocks out of Markdown, for the tests that check the docs
# against the code (the lifecycle diagram, the C++ examples).

# errand_next_fenced_block(<text> <language> <from> <start-var> <length-var>)
# The first ```<language> block of <text> at or after offset <from>: the offset
# where its body starts and the body's length. <start-var> is -1 when there is
# no such block; <length-var> is -1 when the block is never closed.
function(errand_next_fenced_block text language from start_var length_var)
  set(opening "```${language}\n")
  string(SUBSTRING "${text}" ${from} -1 rest)
  string(FIND "${rest}" "${opening}" start)
  set(length -1)
  if(NOT start EQUAL -1)
    string(LENGTH "${opening}" opening_length)
    math(EXPR start "${from} + ${start} + ${opening_length}")
    string(SUBSTRING "${text}" ${start} -1 body)
    string(FIND "${body}" "```\n" length)
  endif()
  set(${start_var} ${start} PARENT_SCOPE)
  set(${length_var} ${length} PARENT_SCOPE)
endfunction()
