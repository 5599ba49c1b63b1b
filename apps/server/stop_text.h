#pragma once
// Stop strings over streamed text: text is released only once it cannot be the start of a
// stop string, and a stop string found is cut off with everything after it.
#include <string>
#include <vector>

namespace smolvk::serve {

class StopText {
 public:
  explicit StopText(std::vector<std::string> stops) : stops_(std::move(stops)) {}
  // Adds a piece; returns the text now safe to send. After a stop string, stopped() is true
  // and further pieces give nothing.
  std::string feed(const std::string& piece);
  // The text held back (at the end of generation it is sent: no stop string followed).
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace smolvk::serve
