# Writes what `QSCOPE FLAGS` prints to OUT (the man page, the bash completion), failing
# when qscope fails:  cmake -DQSCOPE=... -DFLAGS="--completion bash" -DOUT=... -P ...
get_filename_component(dir ${OUT} DIRECTORY)
file(MAKE_DIRECTORY ${dir})
separate_arguments(args UNIX_COMMAND "${FLAGS}")
execute_process(COMMAND ${QSCOPE} ${args} OUTPUT_FILE ${OUT}.tmp RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE ${OUT}.tmp)
  message(FATAL_ERROR "${QSCOPE} ${FLAGS} failed (${rc})")
endif()
file(RENAME ${OUT}.tmp ${OUT})
