#include <gtest/gtest.h>

#include "model/ops/splice.h"
#include "model/ops/splice_ref.h"
#include "tests/ops/test_norm_util.h"

using namespace smolvk;

TEST(Splice, CopiesImageRowsToPlaceholders) {
  constexpr int32_t kImage = 7;
  struct C {
    int64_t batch, seq, hidden;
  };
  for (C c : {C{1, 9, 12}, C{2, 23, 37}, C{3, 41, 129}}) {
    SCOPED_TRACE(testing::Message() << c.batch << "x" << c.seq << " H=" << c.hidden);
    // Each batch row: a few text ids, then a run of <image>, then text again.
    std::vector<int32_t> ids(size_t(c.batch * c.seq));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t(i % 5);
    int64_t image_rows = 0;
    for (int64_t b = 0; b < c.batch; ++b)
      for (int64_t t = 2; t < c.seq - 3; t += 2, ++image_rows) ids[size_t(b * c.seq + t)] = kImage;
    const auto targets = ops::image_token_targets(ids, kImage, image_rows);
    ASSERT_EQ(int64_t(targets.size()), image_rows);
    EXPECT_EQ(targets[0], 2);

    const auto text = test::random_floats(size_t(c.batch * c.seq * c.hidden), 1);
    const auto image = test::random_floats(size_t(image_rows * c.hidden), 2);
    Buffer tb = test::upload(text), ib = test::upload(image), gb = test::upload(targets);
    Graph g(test::context());
    ops::splice(g, test::tensor(g, tb, DType::F32, {c.batch, c.seq, c.hidden}),
                test::tensor(g, ib, DType::F32, {image_rows, c.hidden}), test::tensor(g, gb, DType::I32, {image_rows}));
    g.compile().run();
    EXPECT_EQ(test::download<float>(tb, text.size()), ops::ref::splice(text, image, targets, c.hidden));
  }
}

TEST(Splice, CountMismatchNamesBothCounts) {
  const std::vector<int32_t> ids{1, 9, 9, 2, 9};
  try {
    ops::image_token_targets(ids, 9, 64);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(" 3 "), std::string::npos) << m;
    EXPECT_NE(m.find("64"), std::string::npos) << m;
  }
  EXPECT_EQ(ops::image_token_targets(ids, 9, 3), (std::vector<int32_t>{1, 2, 4}));
}
