// loader/video.h in a build configured with -DSMOLVK_VIDEO=OFF (no FFmpeg): every video is
// refused with a message that says why, so `smolvk run --video` and video_url parts fail as
// clearly as an undecodable file does.
#include "loader/error.h"
#include "loader/video.h"

namespace smolvk {

namespace {
[[noreturn]] void no_video(const std::string& source) {
  throw LoadError(source +
                  ": this smolvk was built without video decoding (-DSMOLVK_VIDEO=OFF, no FFmpeg libraries); "
                  "rebuild with SMOLVK_VIDEO=ON and Debian's libavformat-dev, libavcodec-dev and libswscale-dev");
}
}  // namespace

Video load_video(const std::filesystem::path& path, const FrameSampler&, const VideoLimits&) {
  no_video(path.string());
}

Video decode_video(std::span<const uint8_t>, const std::string& source_name, const FrameSampler&, const VideoLimits&) {
  no_video(source_name);
}

std::string ffmpeg_versions() { return "none (built with SMOLVK_VIDEO=OFF)"; }

}  // namespace smolvk
