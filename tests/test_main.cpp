// Test entry point: every test fails if the validation layer printed anything during it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "tests/test_util.h"

namespace smolvk::test {
namespace {
std::unique_ptr<Context> g_context;
}
Context& context() {
  if (!g_context) {
    auto opts = ContextOptions::from_env();
    if (const char* v = std::getenv("SMOLVK_VALIDATION"); !v) opts.validation = true;
    opts.on_validation_message = [](const std::string& m) { ADD_FAILURE() << "Vulkan validation: " << m; };
    g_context = std::make_unique<Context>(opts);
  }
  return *g_context;
}
bool context_created() { return g_context != nullptr; }
// Before main returns: drivers (NVIDIA's among them) may already be unloaded when static
// destructors run.
void destroy_context() { g_context.reset(); }
}  // namespace smolvk::test

namespace {
class ValidationListener : public testing::EmptyTestEventListener {
  void OnTestEnd(const testing::TestInfo&) override {
    if (!smolvk::test::context_created()) return;
    smolvk::test::context().take_validation_messages();  // already reported as they came
  }
};
}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  testing::UnitTest::GetInstance()->listeners().Append(new ValidationListener);
  int rc = RUN_ALL_TESTS();
  smolvk::test::destroy_context();
  return rc;
}
