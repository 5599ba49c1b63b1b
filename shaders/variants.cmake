# The one table of shader variants: "name|source.comp|DEFINE=1|DEFINE2=..."
# Each name becomes an embedded SPIR-V module that runtime pipelines look up by name.
set(SMOLVK_SHADER_VARIANTS
  "test_fill|test_fill.comp"
)
