#include "apps/gui/script.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace smolvk::gui {
namespace {

int to_int(const ScriptStep& s, int lo) {
  try {
    size_t end = 0;
    int v = std::stoi(s.arg, &end);
    if (end == s.arg.size() && v >= lo) return v;
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(s.where + ": '" + s.command + " " + s.arg + "': expected an integer ≥ " +
                              std::to_string(lo));
}

double to_double(const std::string& where, const std::string& v) {
  try {
    size_t end = 0;
    double d = std::stod(v, &end);
    if (end == v.size()) return d;
  } catch (const std::exception&) {
  }
  throw std::invalid_argument(where + ": '" + v + "' is not a number");
}

void apply_setting(const ScriptStep& s, Settings& st) {
  std::istringstream in(s.arg);
  std::string key, value;
  in >> key >> value;
  double v = to_double(s.where, value);
  if (key == "max_new_tokens" && v >= 1)
    st.max_new_tokens = int(v);
  else if (key == "temperature" && v >= 0)
    st.sampling.temperature = float(v);
  else if (key == "top_k" && v >= 0)
    st.sampling.top_k = int(v);
  else if (key == "top_p" && v > 0 && v <= 1)
    st.sampling.top_p = float(v);
  else if (key == "seed" && v >= 0)
    st.sampling.seed = uint64_t(v);
  else
    throw std::invalid_argument(s.where + ": 'set " + s.arg +
                                "': expected max_new_tokens ≥ 1, temperature ≥ 0, top_k ≥ 0, "
                                "top_p in (0, 1] or seed ≥ 0");
}

const char* kCommands[] = {
    "model",     "image",  "prompt", "set",        "generate", "pause_after_token", "wait_tokens", "stop",
    "wait_done", "frames", "clear",  "screenshot", "session",  "reset_frame_stats", "reload",      "fault"};

// "fault device_lost_after:N" → N (≥ 1); std::invalid_argument naming the step otherwise.
uint32_t fault_submit(const ScriptStep& s) {
  static const std::string prefix = "device_lost_after:";
  if (s.arg.rfind(prefix, 0) == 0) {
    ScriptStep n = s;
    n.arg = s.arg.substr(prefix.size());
    try {
      return uint32_t(to_int(n, 1));
    } catch (const std::invalid_argument&) {
    }
  }
  throw std::invalid_argument(s.where + ": 'fault " + s.arg + "': expected device_lost_after:N (N ≥ 1)");
}

}  // namespace

std::vector<ScriptStep> parse_script_text(const std::string& text, const std::string& source) {
  std::vector<ScriptStep> steps;
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#') continue;
    line = line.substr(b);
    ScriptStep s;
    s.where = source + ":" + std::to_string(n);
    size_t sp = line.find_first_of(" \t");
    s.command = line.substr(0, sp);
    if (sp != std::string::npos) {
      s.arg = line.substr(line.find_first_not_of(" \t", sp));
      while (!s.arg.empty() && (s.arg.back() == ' ' || s.arg.back() == '\t')) s.arg.pop_back();
    }
    bool known = false;
    for (const char* c : kCommands) known |= s.command == c;
    if (!known) throw std::invalid_argument(s.where + ": unknown step '" + s.command + "' (see apps/gui/script.h)");
    const bool needs_arg = s.command == "model" || s.command == "image" || s.command == "prompt" ||
                           s.command == "set" || s.command == "pause_after_token" || s.command == "wait_tokens" ||
                           s.command == "frames" || s.command == "screenshot" || s.command == "session" ||
                           s.command == "fault";
    if (needs_arg && s.arg.empty()) throw std::invalid_argument(s.where + ": '" + s.command + "' needs an argument");
    if (s.command == "set") {
      Settings probe;
      apply_setting(s, probe);
    }
    if (s.command == "pause_after_token" || s.command == "wait_tokens") to_int(s, 1);
    if (s.command == "frames") to_int(s, 0);
    if (s.command == "fault") fault_submit(s);
    if (s.command == "wait_done" && !s.arg.empty()) to_double(s.where, s.arg);
    steps.push_back(std::move(s));
  }
  return steps;
}

std::vector<ScriptStep> parse_script(const std::filesystem::path& file) {
  std::ifstream f(file, std::ios::binary);
  if (!f) throw std::invalid_argument("cannot read the script " + file.string());
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_script_text(ss.str(), file.string());
}

std::vector<ScriptStep> one_turn_script(const GuiOptions& o) {
  std::vector<ScriptStep> s;
  auto add = [&](std::string c, std::string a = {}) { s.push_back({"(flags)", std::move(c), std::move(a)}); };
  add("wait_done");
  if (o.prompt) {
    add("generate");
    add("wait_done");
  }
  if (o.screenshot) add("screenshot", o.screenshot->string());
  return s;
}

ScriptRunner::FrameRequest ScriptRunner::advance(App& app, Ui& ui, FrameStats& stats) {
  FrameRequest out;
  while (!done() && failure_.empty()) {
    if (!step_started_) {
      step_started_ = std::chrono::steady_clock::now();
      step_frames_ = 0;
    }
    if (!run(steps_[next_], app, ui, stats, out)) {
      ++step_frames_;
      break;
    }
    ++next_;
    step_started_.reset();
    if (out.screenshot || out.session) break;  // one file per frame, from that frame
  }
  return out;
}

bool ScriptRunner::run(const ScriptStep& s, App& app, Ui& ui, FrameStats& stats, FrameRequest& out) {
  const auto waited = std::chrono::steady_clock::now() - *step_started_;
  const std::string& c = s.command;
  if (c == "model") {
    if (app.busy()) return false;  // a load from the flags may still run
    ui.set_model_field(s.arg);
    app.load_model(s.arg);
  } else if (c == "image") {
    ui.set_image_field(s.arg);
    app.open_image(s.arg);
  } else if (c == "prompt") {
    app.prompt_box = s.arg;
  } else if (c == "set") {
    apply_setting(s, app.settings);
  } else if (c == "generate") {
    if (app.busy()) return false;
    app.generate(app.prompt_box);
  } else if (c == "pause_after_token") {
    app.pause_after_token(to_int(s, 1));
  } else if (c == "wait_tokens" || c == "wait_done") {
    const bool ready = c == "wait_done" ? !app.busy() : app.streamed_tokens() >= to_int(s, 1) || !app.busy();
    if (ready) return true;
    double limit = c == "wait_done" && !s.arg.empty() ? to_double(s.where, s.arg) : 300.0;
    if (std::chrono::duration<double>(waited).count() > limit)
      failure_ = s.where + ": '" + c + " " + s.arg + "' still waiting after " + std::to_string(int(limit)) + " s";
    return false;
  } else if (c == "stop") {
    stats.on_stop_pressed();
    app.stop();
  } else if (c == "frames") {
    return step_frames_ >= to_int(s, 0);
  } else if (c == "clear") {
    if (app.busy()) return false;
    app.clear_chat();
  } else if (c == "screenshot") {
    // Two frames first: window layout and a re-uploaded image preview settle.
    if (step_frames_ < 2) return false;
    out.screenshot = s.arg;
  } else if (c == "reload") {
    if (app.busy()) return false;
    app.reload_model();
  } else if (c == "fault") {
    if (app.busy()) return false;
    app.inject_device_lost(fault_submit(s));
  } else if (c == "reset_frame_stats") {
    stats = FrameStats{};
  } else if (c == "session") {
    out.session = s.arg;
  }
  return true;
}

}  // namespace smolvk::gui
