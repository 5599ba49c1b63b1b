// The fuzz build compiles stb_image itself, with the sanitizers and coverage, instead of
// linking Debian's uninstrumented libstb.a: the image target then fuzzes the decoder too.
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
