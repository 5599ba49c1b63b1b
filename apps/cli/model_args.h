#pragma once
// Options shared by run and chat: which model, sampling settings, where the demo model lives.
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "apps/cli/args.h"
#include "model/smolvlm.h"

namespace smolvk::cli {

// --model DIR, or the demo checkpoint shipped in examples/ (random weights; says so).
std::filesystem::path model_dir(const Args& a);
bool is_demo_model(const std::filesystem::path& dir);
// Loads with a progress bar and a "loaded ... in T ms" line (unless quiet); `load_ms`: that T.
std::unique_ptr<Model> load_model(Context& ctx, const std::filesystem::path& dir, bool quiet,
                                  double* load_ms = nullptr, const LoadOptions& options = {});
// A --dtype value for a checkpoint: "auto" (as stored) or "bf16" (LoadOptions::f32_as_bf16);
// nullopt for anything else (each command names the flag in its own error).
std::optional<LoadOptions> load_options_for(const std::string& dtype);
// What load_options_for takes, for those errors.
inline constexpr const char* kLoadDtypeChoices = "auto (the checkpoint's dtypes) or bf16 (its f32 tensors as bf16)";
// --dtype auto|bf16 of `a` (default auto); std::invalid_argument naming the value otherwise.
LoadOptions load_options_from(const Args& a);
SamplingParams sampling_from(const Args& a);
// The option specs of model_dir + sampling_from.
std::vector<Args::Spec> model_and_sampling_specs();

}  // namespace smolvk::cli
