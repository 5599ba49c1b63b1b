#pragma once
// Reading transformers' goldens (tests/data/<case>/golden/golden.json + .npy) into requests.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "loader/image.h"
#include "loader/npy.h"
#include "model/smolvlm.h"
#include "tests/golden_json.h"
#include "tests/test_util.h"

namespace smolvk::test {

// The batch of requests of golden request `r`, as a user of the library would build them.
inline std::vector<Request> requests_from_golden(const std::filesystem::path& model_dir, const nlohmann::json& r) {
  std::vector<Request> out;
  const auto images_dir = model_dir / "golden" / r.value("images_dir", std::string("../../images"));
  const size_t rows = r.at("prompt_text").size();
  const bool direct = r.value("direct_call", false);
  for (size_t b = 0; b < rows; ++b) {
    Request q;
    if (direct) {
      q.prompt_ids = r.at("input_ids").at(b).get<std::vector<int32_t>>();
      auto pv = read_npy(model_dir / "golden" / r.at("pixel_values").get<std::string>());
      auto pm = read_npy(model_dir / "golden" / r.at("pixel_attention_mask").get<std::string>());
      q.tile_height = int(pv.shape[3]);
      q.tile_width = int(pv.shape[4]);
      q.pixel_values = pv.floats;
      q.pixel_mask.assign(pm.ints.begin(), pm.ints.end());
    } else {
      if (r.contains("messages") && r["messages"].is_array())
        q.messages = chat_from_json(r["messages"].at(b));
      else
        q.prompt_text = r.at("prompt_text").at(b).get<std::string>();
      if (r.contains("images") && r["images"].size() > b)
        for (const auto& f : r["images"][b]) q.images.push_back(load_image(images_dir / f.get<std::string>()));
    }
    out.push_back(std::move(q));
  }
  return out;
}

}  // namespace smolvk::test
