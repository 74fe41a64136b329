# Runs a workflow script (scripts/workflows/NAME.qs) in its short CI form: the -D defines
# in NAME.ci (whitespace-separated NAME=VALUE words) replace the full form's defaults. The
# script asserts its story with `check`; exit 0 is the pass.
get_filename_component(dir ${SCRIPT} DIRECTORY)
get_filename_component(name ${SCRIPT} NAME_WE)
set(defines)
if(EXISTS ${dir}/${name}.ci)
  file(READ ${dir}/${name}.ci ci)
  string(REGEX REPLACE "#[^\n]*" "" ci "${ci}")
  string(REGEX REPLACE "[ \t\r\n]+" ";" words "${ci}")
  foreach(w ${words})
    if(NOT w STREQUAL "")
      list(APPEND defines -D ${w})
    endif()
  endforeach()
endif()
execute_process(COMMAND ${QSCOPE} ${defines} --batch ${SCRIPT} RESULT_VARIABLE rc
                OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "exit status ${rc}\nstderr: ${err}\nstdout: ${out}")
endif()
message(STATUS "${out}")
