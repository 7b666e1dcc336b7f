# Writes a C file defining `const char NAME[]` with the bytes of IN, so a
# file the program serves (the status page) is part of the binary, as the
# Avro schemas are (libbf/embed_schemas.cmake): no install step, no path
# to get wrong, and the page always matches the API it reads.
#   cmake -DIN=page.html -DOUT=page.c -DNAME=bf_page -P embed_file.cmake
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${hex}")
# Split the literal every 64 bytes (4 characters each), so no line and no
# single string literal is too long for a compiler or an editor.
string(REGEX REPLACE "((\\\\x[0-9a-f][0-9a-f]){64})" "\\1\"\n    \"" split "${escaped}")
file(WRITE ${OUT} "/* Generated from ${IN} by embed_file.cmake; do not edit. */\n"
                  "const char ${NAME}[] =\n    \"${split}\";\n")
