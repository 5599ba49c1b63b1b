#pragma once
// Runs the built smolvk-serve (../apps/smolvk-serve next to the test binary, or
// $SMOLVK_SERVE) on a free loopback port, and talks to it with cpp-httplib's client.
#include <gtest/gtest.h>
#include <httplib.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace smolvk::test {

namespace fs = std::filesystem;
using nlohmann::json;

inline fs::path build_dir() { return fs::canonical("/proc/self/exe").parent_path().parent_path(); }
inline fs::path serve_binary() {
  if (const char* p = std::getenv("SMOLVK_SERVE"); p && *p) return p;
  return build_dir() / "apps" / "smolvk-serve";
}
inline fs::path cli_binary() {
  if (const char* p = std::getenv("SMOLVK_CLI"); p && *p) return p;
  return build_dir() / "apps" / "smolvk";
}
inline fs::path examples_dir() { return fs::path(SMOLVK_TEST_DATA).parent_path().parent_path() / "examples"; }

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string base64(const std::string& bytes) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 | uint8_t(bytes[i + 2]);
    for (int s : {18, 12, 6, 0}) out += k[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += k[(v >> 18) & 63];
    out += k[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? k[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

inline std::string data_url(const fs::path& image) { return "data:image/png;base64," + base64(read_file(image)); }

// One smolvk-serve process: started with `args` (+ --port 0), ready (/health 200) when the
// constructor returns; SIGTERM in the destructor, which expects exit 0 and no validation message.
class ServerProcess {
 public:
  explicit ServerProcess(const std::vector<std::string>& args) {
    err_ =
        fs::temp_directory_path() / ("smolvk_serve_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    std::vector<std::string> argv = {serve_binary().string(), "--port", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      const int fd = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 2);
      std::vector<char*> c;
      for (auto& a : argv) c.push_back(a.data());
      c.push_back(nullptr);
      ::execv(c[0], c.data());
      std::_Exit(127);
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (port_ == 0 && std::chrono::steady_clock::now() < until) {
      const std::string e = stderr_text();
      const auto at = e.find("listening on http://127.0.0.1:");
      if (at != std::string::npos) {
        port_ = std::atoi(e.c_str() + at + 30);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    if (port_ == 0) {
      ADD_FAILURE() << "smolvk-serve did not print its address:\n" << stderr_text();
      return;
    }
    while (std::chrono::steady_clock::now() < until) {
      auto r = client().Get("/health");
      if (r && r->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "smolvk-serve not ready after 60 s:\n" << stderr_text();
  }
  ~ServerProcess() {
    if (pid_ > 0) {
      EXPECT_EQ(stop(), 0) << stderr_text();
    }
    const std::string e = stderr_text();
    EXPECT_EQ(e.find("Vulkan validation"), std::string::npos) << e;
    fs::remove(err_);
  }
  ServerProcess(const ServerProcess&) = delete;

  // SIGTERM, then the exit status (-1 if it did not exit within 60 s, or died of a signal).
  int stop() {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 600; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return exit_code_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
    return -1;
  }
  void signal(int sig) { ::kill(pid_, sig); }

  int port() const { return port_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }
  std::string stderr_text() const { return read_file(err_); }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  pid_t pid_ = -1;
  int port_ = 0, exit_code_ = -1;
  fs::path err_;
};

inline json parse_json(const std::string& s) {
  try {
    return json::parse(s);
  } catch (const json::exception& e) {
    ADD_FAILURE() << "not JSON (" << e.what() << "): " << s;
    return json::object();
  }
}

// `smolvk run ARGS --json` → its JSON: what the server's answers are compared with.
inline json run_cli_json(const std::string& args) {
  const std::string cmd = cli_binary().string() + " run " + args + " --json 2>/dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  for (size_t n; p && (n = std::fread(buf.data(), 1, buf.size(), p)) > 0;) out.append(buf.data(), n);
  EXPECT_EQ(p ? ::pclose(p) : -1, 0) << cmd;
  return parse_json(out);
}

// POST /v1/chat/completions, not streamed: status and body.
inline std::pair<int, json> chat(const ServerProcess& s, const json& body, const httplib::Headers& headers = {}) {
  auto r = s.client().Post("/v1/chat/completions", headers, body.dump(), "application/json");
  if (!r) {
    ADD_FAILURE() << "no answer: " << httplib::to_string(r.error());
    return {0, json::object()};
  }
  return {r->status, parse_json(r->body)};
}

struct Streamed {
  int status = 0;
  std::vector<int32_t> ids;
  std::string text, finish_reason;
  bool done = false;  // data: [DONE] seen
  json usage;
  int chunks = 0;
  std::chrono::steady_clock::time_point first_token, last_token;  // when their chunks arrived
};

// POST with "stream": true; parses the server-sent events. `stop_after` > 0: the client hangs
// up after that many token chunks.
inline Streamed chat_stream(const ServerProcess& s, json body, int stop_after = 0) {
  body["stream"] = true;
  Streamed out;
  std::string buffer;
  bool hung_up = false;
  httplib::Request req;  // this cpp-httplib's Post() takes no content receiver
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    buffer.append(data, n);
    for (size_t end; (end = buffer.find("\n\n")) != std::string::npos;) {
      const std::string event = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      if (event.rfind("data: ", 0) != 0) continue;  // ": waiting" comments
      const std::string payload = event.substr(6);
      if (payload == "[DONE]") {
        out.done = true;
        continue;
      }
      const json c = parse_json(payload);
      ++out.chunks;
      if (c.contains("usage")) out.usage = c["usage"];
      if (c.contains("smolvk")) {
        out.ids.push_back(c["smolvk"]["token_ids"][0].get<int32_t>());
        out.last_token = std::chrono::steady_clock::now();
        if (out.ids.size() == 1) out.first_token = out.last_token;
      }
      if (c.contains("choices") && !c["choices"].empty()) {
        const json& ch = c["choices"][0];
        if (ch["delta"].contains("content")) out.text += ch["delta"]["content"].get<std::string>();
        if (!ch["finish_reason"].is_null()) out.finish_reason = ch["finish_reason"];
      }
      if (stop_after > 0 && int(out.ids.size()) >= stop_after) {
        hung_up = true;
        return false;
      }
    }
    return true;
  };
  auto r = s.client().send(req);
  if (r)
    out.status = r->status;
  else if (!hung_up)
    ADD_FAILURE() << "no answer: " << httplib::to_string(r.error());
  return out;
}

inline json user_text(const std::string& text, int max_tokens) {
  return {{"messages", {{{"role", "user"}, {"content", text}}}}, {"max_tokens", max_tokens}};
}

}  // namespace smolvk::test
