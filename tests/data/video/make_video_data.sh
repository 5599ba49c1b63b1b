#!/bin/sh
# Remakes the test videos and their FFmpeg references in this folder with Debian 12's ffmpeg
# CLI (5.1.x): sh tests/data/video/make_video_data.sh (from anywhere). See README.md.
set -eu
cd "$(dirname "$0")"
FF="ffmpeg -hide_banner -loglevel error -y"
BITEXACT="-fflags +bitexact -flags:v +bitexact -map_metadata -1"

# H.264 (yuv420p, limited range, untagged), B-frames and an edit list, 35 frames, 3.5 s.
$FF -f lavfi -i "testsrc2=size=64x48:rate=10:duration=3.5" -c:v libx264 -threads 1 -preset veryslow -crf 28 \
  -g 12 -bf 2 -pix_fmt yuv420p $BITEXACT -movflags +faststart moving_64x48_10fps.mp4
# MJPEG in AVI (yuvj422p: full range, BT.601), odd height, 7 frames, 1.4 s.
$FF -f lavfi -i "testsrc2=size=40x30:rate=5:duration=1.4" -vf "format=yuvj422p,crop=40:29:0:0" -c:v mjpeg \
  -q:v 24 -pix_fmt yuvj422p $BITEXACT moving_40x29_5fps.avi
# Not videos: a container with a video stream and no frame, and an audio-only file.
$FF -f lavfi -i "testsrc2=size=64x48:rate=10" -frames:v 0 -c:v mjpeg $BITEXACT no_frames.avi 2>/dev/null || true
$FF -f lavfi -i "sine=frequency=440:duration=0.05:sample_rate=8000" -ac 1 -c:a pcm_u8 -fflags +bitexact \
  -map_metadata -1 audio_only.wav

# Every frame as RGB24, as CRC32s (the decode test compares its frames' bytes against them),
# converted as torchcodec converts (swscale, bilinear).
for v in moving_64x48_10fps.mp4 moving_40x29_5fps.avi; do
  $FF -i "$v" -sws_flags bilinear -pix_fmt rgb24 -f framehash -hash crc32 "$v.framehash"
done

# The frames SmolVLM2's processor samples from the MP4 (fps 1, 64 at most: 0, 11, 22, 34),
# as lossless RGB PNGs, for the transformers golden (tools/reference/make_video_golden.py).
mkdir -p frames
for n in 0 11 22 34; do
  $FF -i moving_64x48_10fps.mp4 -vf "select=eq(n\,$n)" -frames:v 1 -sws_flags bilinear -pix_fmt rgb24 \
    "frames/$(printf %03d "$n").png"
done
