// The numeric checks every kernel test relies on (tests/test_util.h) must fail — return
// +infinity — on NaN or Inf in either array, on a size mismatch and on empty input.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "tests/test_util.h"

using namespace smolvk;

namespace {
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
const std::vector<float> kRef = {1.0f, -2.0f, 3.0f, 0.5f};

void expect_rejected(const std::vector<float>& ref, const std::vector<float>& got, const std::string& why) {
  EXPECT_TRUE(std::isinf(test::max_rel_error(ref, got))) << why;
  EXPECT_TRUE(std::isinf(test::nmse(ref, got))) << why;
  EXPECT_TRUE(std::isinf(test::max_abs_error(ref, got))) << why;
  EXPECT_FALSE(test::max_rel_error(ref, got) <= 1e30) << why;  // the form every call site uses
  EXPECT_FALSE(test::nmse(ref, got) <= 1e30) << why;
  EXPECT_NE(test::compare_problem(ref, got).find(why), std::string::npos) << test::compare_problem(ref, got);
}
}  // namespace

TEST(Compare, MatchingArraysGiveTheirError) {
  EXPECT_EQ(test::max_rel_error(kRef, kRef), 0.0);
  EXPECT_EQ(test::nmse(kRef, kRef), 0.0);
  EXPECT_EQ(test::compare_problem(kRef, kRef), "");
  std::vector<float> got = kRef;
  got[2] = 3.3f;
  EXPECT_NEAR(test::max_rel_error(kRef, got), 0.3 / 3.0, 1e-6);
  EXPECT_NEAR(test::max_abs_error(kRef, got), 0.3, 1e-6);
  EXPECT_EQ(test::worst_index(kRef, got), 2u);
}

TEST(Compare, NaNInResultFails) {
  std::vector<float> got = kRef;
  got[1] = kNaN;
  expect_rejected(kRef, got, "result[1] = nan");
  expect_rejected(kRef, std::vector<float>(kRef.size(), kNaN), "result[0] = nan");  // all-NaN output
}

TEST(Compare, InfInEitherArrayFails) {
  std::vector<float> got = kRef;
  got[3] = -kInf;
  expect_rejected(kRef, got, "result[3] = -inf");
  std::vector<float> ref = kRef;
  ref[0] = kInf;
  expect_rejected(ref, kRef, "reference[0] = inf");
  ref[0] = kNaN;
  expect_rejected(ref, kRef, "reference[0] = nan");
}

TEST(Compare, SizeMismatchFails) {
  expect_rejected(kRef, {1.0f, -2.0f, 3.0f}, "size mismatch");  // result shorter: no read past
  expect_rejected(kRef, {1.0f, -2.0f, 3.0f, 0.5f, 9.0f}, "size mismatch");
  expect_rejected({}, {}, "empty");
}
