#pragma once
// Video files decoded with Debian's FFmpeg libraries (libavformat, libavcodec, libswscale) the
// way transformers 5.17's default video decoder does it (torchcodec, seek_mode "exact"):
// metadata from a scan of every packet of the best video stream, then the sampled frames
// decoded and converted to RGB24 by swscale.
//
// Frame metadata (torchcodec's SingleStreamDecoder::scan_file_and_update_metadata_and_index):
// packets flagged AV_PKT_FLAG_DISCARD are skipped; total_frames = the other packets; begin =
// the least pts (dts when a packet has none), end = the greatest pts + duration, each
// pts · time_base.num / time_base.den seconds; duration = end − begin; fps = total_frames /
// duration (the stream's r_frame_rate when the duration is 0). Frame i is the i-th frame the
// decoder gives (presentation order).
//
// RGB conversion (torchcodec's CpuDeviceInterface): sws_getContext(w, h, format, w, h, RGB24,
// SWS_BILINEAR), then sws_setColorspaceDetails with sws_getCoefficients(frame->colorspace)
// (unspecified: BT.601) and the source range that swscale derives from the pixel format
// (full for the yuvj formats, limited otherwise; a limited-format stream flagged full range is
// read as limited, as torchcodec's swscale path reads it). The alpha of a format with alpha is
// dropped. Differences from transformers, documented: the stream's rotation (display matrix)
// is not applied; torchcodec converts frames whose width is not a multiple of 32 through an
// FFmpeg filter graph ("scale=W:H:sws_flags=bilinear"), which reads the range from the frame's
// color_range instead (the same for yuvj streams and for untagged limited-range streams).
// The ffmpeg CLI converts as this does with `-sws_flags bilinear`
// (`ffmpeg -i F -sws_flags bilinear -pix_fmt rgb24 -f rawvideo`: tests/data/video); its default
// flags (bicubic) give the same bytes for the test videos (H.264 4:2:0, MJPEG 4:2:2 of odd height).
//
// Errors (LoadError naming the file and what was expected): not a media file, no video
// stream, no decoder, no frames, frames the decoder cannot give, sizes over VideoLimits,
// frames changing size. Every FFmpeg object is freed on every path.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "loader/image.h"
#include "loader/video_preprocess.h"

namespace smolvk {

struct VideoLimits {
  int max_side = kMaxImageSide;                      // width and height of a frame
  int64_t max_frame_pixels = kMaxImagePixels;        // width × height of a frame
  int64_t max_frames = kMaxVideoFrames;              // frames kept (after sampling)
  uint64_t max_frame_bytes = kMaxVideoFrameBytes;    // their RGB bytes, together
};

// Decodes the frames `sample` picks from the metadata (every frame when `sample` is empty).
// Limits are checked before any frame is allocated: the stream's size from its header, the
// sampled count and bytes from the scan.
Video load_video(const std::filesystem::path& path, const FrameSampler& sample = {}, const VideoLimits& limits = {});
// The same from bytes in memory (e.g. a data: URL); `source_name` names them in errors.
Video decode_video(std::span<const uint8_t> bytes, const std::string& source_name, const FrameSampler& sample = {},
                   const VideoLimits& limits = {});

// "libavformat 59.27.100, libavcodec 59.37.100, libswscale 6.7.100" (for reports).
std::string ffmpeg_versions();

}  // namespace smolvk
