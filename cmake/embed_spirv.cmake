# Turns a .spv file into a C++ array: smolvk::spv::spv_<NAME>.
file(READ ${SPV} _hex HEX)
string(LENGTH "${_hex}" _len)
math(EXPR _words "${_len} / 8")
string(REGEX REPLACE "([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])([0-9a-f][0-9a-f])" "0x\\4\\3\\2\\1u," _arr "${_hex}")
string(MAKE_C_IDENTIFIER "${NAME}" _id)
file(WRITE ${OUT} "#include <cstddef>\n#include <cstdint>\nnamespace smolvk::spv {\nextern const uint32_t spv_${_id}[] = {${_arr}};\nextern const size_t spv_${_id}_words = ${_words};\n}\n")
