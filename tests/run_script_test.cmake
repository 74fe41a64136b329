# Runs one batch script and compares its output (see tests/CMakeLists.txt).
get_filename_component(dir ${SCRIPT} DIRECTORY)
get_filename_component(name ${SCRIPT} NAME_WE)

if(SCRIPT MATCHES "\\.fail\\.qs$")
  # NAME.fail.err: the first line is what stderr must contain, a line "exit status: N" the
  # status the script must end with (the table is in docs/scripts.md, "Exit status").
  file(STRINGS ${dir}/${name}.fail.err want_rc REGEX "^exit status: *[0-9]+$" LIMIT_COUNT 1)
  if(NOT want_rc)
    message(FATAL_ERROR "${name}.fail.err lacks its 'exit status: N' line")
  endif()
  string(REGEX REPLACE "^exit status: *" "" want_rc "${want_rc}")
  execute_process(COMMAND ${QSCOPE} --batch ${SCRIPT} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  file(STRINGS ${dir}/${name}.fail.err want LIMIT_COUNT 1)
  if(NOT rc EQUAL want_rc)
    message(FATAL_ERROR "expected exit status ${want_rc}, got ${rc}\nstderr: ${err}")
  endif()
  string(FIND "${err}" "${want}" pos)
  if(pos EQUAL -1)
    message(FATAL_ERROR "stderr lacks '${want}'\nstderr: ${err}")
  endif()
elseif(SCRIPT MATCHES "\\.check\\.qs$")
  # Scripts whose output holds timings or long logs: they assert with `check` and must
  # exit 0.
  execute_process(COMMAND ${QSCOPE} --batch ${SCRIPT} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "exit status ${rc}\nstderr: ${err}\nstdout: ${out}")
  endif()
else()
  execute_process(COMMAND ${QSCOPE} --batch ${SCRIPT} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "exit status ${rc}\nstderr: ${err}\nstdout: ${out}")
  endif()
  file(READ ${dir}/${name}.out want)
  if(NOT out STREQUAL want)
    # In script mode CMAKE_CURRENT_BINARY_DIR is the working directory (the source tree),
    # so the caller names the build tree's folder for what the test got.
    file(WRITE ${GOTDIR}/${name}.got "${out}")
    message(FATAL_ERROR "stdout differs from ${name}.out; got (also in ${GOTDIR}/${name}.got):\n${out}")
  endif()
endif()
