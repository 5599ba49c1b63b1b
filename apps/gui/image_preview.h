#pragma once
// The opened image on screen. Debian's Dear ImGui 1.86 Vulkan backend draws every texture
// with the font atlas, so the preview lives in a rectangle reserved in that atlas; after
// set() the renderer re-uploads the atlas (take_dirty()).
#include <filesystem>
#include <imgui.h>

#include "apps/gui/app_state.h"

namespace smolvk::gui {

class ImagePreview {
 public:
  static constexpr int kSide = 320;  // atlas pixels reserved for the preview
  // After ImGui::CreateContext, before the atlas is first built.
  ImagePreview();

  // Shows `image` (nullptr: nothing); a no-op when it is already shown.
  void show(const OpenImage* image);
  bool take_dirty();

  // The image fitted in `avail`, with the preprocessor's tile grid over it.
  void draw(const OpenImage& image, ImVec2 avail) const;

 private:
  int rect_id_ = -1;
  std::filesystem::path shown_;
  const void* shown_pixels_ = nullptr;
  int used_w_ = 0, used_h_ = 0;  // of the scaled image inside the reserved rect
  bool dirty_ = false;
};

}  // namespace smolvk::gui
