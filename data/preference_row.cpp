#include "data/preference_row.h"

namespace dpo {

const char* judgment_name(Judgment judgment) {
  switch (judgment) {
    case Judgment::chosen:
      return "chosen";
    case Judgment::tie:
      return "tie";
    case Judgment::both_bad:
      return "both_bad";
  }
  return "?";
}

void PreferenceRow::clear() {
  prompt.clear();
  chosen.clear();
  rejected.clear();
  id.clear();
  metadata_json.clear();
  fields_json.clear();
  metadata_values.clear();
  field_values.clear();
  judgment = Judgment::chosen;
  strength.reset();
  requested_split = RequestedSplit::none;
}

std::string joined_content(const std::vector<Message>& messages) {
  if (messages.size() == 1)
    return messages[0].content;
  std::string text;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i > 0)
      text += "\n";
    text += messages[i].content;
  }
  return text;
}

}  // namespace dpo
