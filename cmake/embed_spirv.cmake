# cmake -DIN=x.spv -DOUT=x.inc -P embed_spirv.cmake
# Writes a SPIR-V binary as a comma-separated list of 32-bit little-endian words for #include.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" len)
math(EXPR rem "${len} % 8")
if(len EQUAL 0 OR NOT rem EQUAL 0)
  message(FATAL_ERROR "${IN} is not a whole number of 32-bit words")
endif()
string(REGEX REPLACE "(..)(..)(..)(..)" "0x\\4\\3\\2\\1," words "${hex}")
string(REGEX REPLACE "((0x........,){8})" "\\1\n" words "${words}")
file(WRITE "${OUT}" "${words}\n")
