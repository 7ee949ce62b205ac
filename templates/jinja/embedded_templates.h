// The built-in chat templates (configs/templates/*.jinja), embedded at build time by
// templates/jinja/embed_templates.cmake into a generated source file.
#pragma once

#include <cstddef>

namespace dpo::jinja {

struct EmbeddedTemplate {
  const char* name;  // file name without .jinja
  const char* text;  // the file's bytes
  size_t size;
};

extern const EmbeddedTemplate kEmbeddedTemplates[];
extern const size_t kEmbeddedTemplateCount;

}  // namespace dpo::jinja
