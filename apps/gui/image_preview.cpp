#include "apps/gui/image_preview.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace smolvk::gui {

ImagePreview::ImagePreview() { rect_id_ = ImGui::GetIO().Fonts->AddCustomRectRegular(kSide, kSide); }

bool ImagePreview::take_dirty() {
  bool d = dirty_;
  dirty_ = false;
  return d;
}

void ImagePreview::show(const OpenImage* image) {
  const void* pixels = image ? image->image.rgb.data() : nullptr;
  if (pixels == shown_pixels_ && (!image || image->path == shown_)) return;
  shown_pixels_ = pixels;
  shown_ = image ? image->path : std::filesystem::path{};
  unsigned char* atlas = nullptr;
  int aw = 0, ah = 0;
  ImFontAtlas* fonts = ImGui::GetIO().Fonts;
  fonts->GetTexDataAsRGBA32(&atlas, &aw, &ah);
  const ImFontAtlasCustomRect* r = fonts->GetCustomRectByIndex(rect_id_);
  for (int y = 0; y < kSide; ++y) std::fill_n(atlas + ((size_t(r->Y) + y) * aw + r->X) * 4, kSide * 4, 0);
  used_w_ = used_h_ = 0;
  if (image && image->image.width > 0 && image->image.height > 0) {
    const Image& im = image->image;
    double scale = std::min(double(kSide) / im.width, double(kSide) / im.height);
    used_w_ = std::max(1, int(im.width * scale));
    used_h_ = std::max(1, int(im.height * scale));
    // Area average over each destination pixel's footprint (nearest when enlarging).
    for (int y = 0; y < used_h_; ++y) {
      int y0 = int(y / scale), y1 = std::max(y0 + 1, std::min(im.height, int((y + 1) / scale)));
      for (int x = 0; x < used_w_; ++x) {
        int x0 = int(x / scale), x1 = std::max(x0 + 1, std::min(im.width, int((x + 1) / scale)));
        unsigned sum[3] = {0, 0, 0}, n = 0;
        for (int sy = y0; sy < y1; ++sy)
          for (int sx = x0; sx < x1; ++sx, ++n)
            for (int c = 0; c < 3; ++c) sum[c] += im.pixel(sx, sy)[c];
        unsigned char* d = atlas + ((size_t(r->Y) + y) * aw + r->X + x) * 4;
        for (int c = 0; c < 3; ++c) d[c] = static_cast<unsigned char>(sum[c] / n);
        d[3] = 255;
      }
    }
  }
  dirty_ = true;
}

void ImagePreview::draw(const OpenImage& image, ImVec2 avail) const {
  if (used_w_ == 0) return;
  ImFontAtlas* fonts = ImGui::GetIO().Fonts;
  const ImFontAtlasCustomRect* r = fonts->GetCustomRectByIndex(rect_id_);
  ImVec2 uv0, uv1;
  fonts->CalcCustomRectUV(r, &uv0, &uv1);
  uv1.x = uv0.x + (uv1.x - uv0.x) * used_w_ / kSide;
  uv1.y = uv0.y + (uv1.y - uv0.y) * used_h_ / kSide;
  float scale = std::min(avail.x / used_w_, avail.y / used_h_);
  ImVec2 size(used_w_ * scale, used_h_ * scale);
  ImVec2 p0 = ImGui::GetCursorScreenPos();
  ImGui::Image(fonts->TexID, size, uv0, uv1);
  if (!image.grid) return;
  // The split tiles (rows × cols) cover the whole image; the global tile is the image itself.
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImU32 line = IM_COL32(255, 220, 0, 230), label = IM_COL32(255, 255, 255, 255);
  int rows = std::max(1, image.grid->rows), cols = std::max(1, image.grid->cols);
  ImVec2 p1(p0.x + size.x, p0.y + size.y);
  dl->AddRect(p0, p1, line, 0, 0, 2.0f);
  for (int i = 1; i < rows; ++i) {
    float y = p0.y + size.y * i / rows;
    dl->AddLine({p0.x, y}, {p1.x, y}, line, 2.0f);
  }
  for (int j = 1; j < cols; ++j) {
    float x = p0.x + size.x * j / cols;
    dl->AddLine({x, p0.y}, {x, p1.y}, line, 2.0f);
  }
  if (image.grid->rows > 0 && size.x / cols > 40 && size.y / rows > 20)
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) {
        std::string t = std::to_string(i + 1) + "," + std::to_string(j + 1);
        ImVec2 at(p0.x + size.x * j / cols + 4, p0.y + size.y * i / rows + 2);
        dl->AddRectFilled(at, {at.x + ImGui::CalcTextSize(t.c_str()).x + 4, at.y + ImGui::GetFontSize() + 2},
                          IM_COL32(0, 0, 0, 160));
        dl->AddText({at.x + 2, at.y + 1}, label, t.c_str());
      }
}

}  // namespace smolvk::gui
