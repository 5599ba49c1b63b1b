#pragma once
// Runs `f` and returns the LoadError message; fails the test if nothing was thrown.
#include <gtest/gtest.h>

#include <string>

#include "loader/error.h"

namespace smolvk::test {

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const LoadError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a LoadError";
  return {};
}

}  // namespace smolvk::test
