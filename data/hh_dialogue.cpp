#include "data/hh_dialogue.h"

#include "core/text.h"

namespace dpo {

namespace {
struct Marker {
  std::string_view text;
  const char* role;
};
constexpr Marker kMarkers[] = {{"\n\nHuman:", "user"}, {"\n\nAssistant:", "assistant"}};

// Finds the next marker at or after `from`; returns npos when there is none.
size_t find_marker(std::string_view text, size_t from, const Marker** which) {
  size_t best = std::string_view::npos;
  for (const Marker& marker : kMarkers) {
    size_t at = text.find(marker.text, from);
    if (at < best) {
      best = at;
      *which = &marker;
    }
  }
  return best;
}
}  // namespace

bool parse_hh_dialogue(std::string_view text, std::vector<Message>& turns) {
  turns.clear();
  // Accept the dialogue with or without the leading blank line.
  std::string normalized = "\n\n";
  normalized.append(text.substr(
      text.find_first_not_of(" \t\r\n") == std::string_view::npos
          ? text.size()
          : text.find_first_not_of(" \t\r\n")));
  std::string_view body = normalized;
  const Marker* marker = nullptr;
  size_t at = find_marker(body, 0, &marker);
  if (at != 0)
    return false;
  while (at != std::string_view::npos) {
    const Marker* current = marker;
    size_t content_begin = at + current->text.size();
    if (content_begin < body.size() && body[content_begin] == ' ')
      ++content_begin;
    size_t next = find_marker(body, content_begin, &marker);
    size_t content_end = next == std::string_view::npos ? body.size() : next;
    turns.push_back(Message{
        current->role, std::string(body.substr(content_begin, content_end - content_begin))});
    at = next;
  }
  return true;
}

}  // namespace dpo
