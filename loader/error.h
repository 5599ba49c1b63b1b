#pragma once
// Errors from reading user files (checkpoints, tokenizers, images, prompts). The message
// names the file / key / value and what was expected.
#include <stdexcept>
#include <string>

namespace smolvk {
class LoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
}  // namespace smolvk
