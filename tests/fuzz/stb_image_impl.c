// The fuzz build compiles stb_image itself, with the sanitizers and coverage, instead of
// linking Debian's uninstrumented libstb.a: the image target then fuzzes the decoder too.
// JPEG never reaches stb (loader/image.cpp decodes it with libjpeg-turbo).
#define STBI_NO_JPEG
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
