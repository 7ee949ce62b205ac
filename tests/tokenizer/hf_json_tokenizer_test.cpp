// HfJsonTokenizer on tiny tokenizer.json files written here, one readable example per component
// (the expected values follow the Rust tokenizers library's source; tools/check_hf_tokenizers.py
// and hf_json_fixtures_test.cpp compare with the library itself), and every refusal.
#include "tokenizer/hf_json_tokenizer.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace dpo {
namespace {

using json = nlohmann::json;
using Ids = std::vector<int32_t>;
using Words = std::vector<std::string>;

// {"token": id} with ids in list order.
json vocab_of(const std::vector<std::string>& tokens) {
  json vocab = json::object();
  for (size_t i = 0; i < tokens.size(); ++i)
    vocab[tokens[i]] = i;
  return vocab;
}

// A tokenizer.json with a BPE model over `tokens` and `merges` and nothing else.
json base(const std::vector<std::string>& tokens, json merges = json::array()) {
  return json{
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", json::array()},
      {"normalizer", nullptr},
      {"pre_tokenizer", nullptr},
      {"post_processor", nullptr},
      {"decoder", nullptr},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"vocab", vocab_of(tokens)},
        {"merges", std::move(merges)}}}};
}

std::unique_ptr<HfJsonTokenizer> load(const json& file) {
  return std::make_unique<HfJsonTokenizer>(file.dump(), "test/tokenizer.json");
}

json added(int id, const std::string& content, bool special = true, bool normalized = false) {
  return json{
      {"id", id},
      {"content", content},
      {"single_word", false},
      {"lstrip", false},
      {"rstrip", false},
      {"normalized", normalized},
      {"special", special}};
}

std::string refusal(const std::string& text) {
  try {
    HfJsonTokenizer tokenizer(text, "bad/tokenizer.json");
  } catch (const ConfigError& error) {
    return error.message();
  }
  return "(accepted)";
}

std::string refusal(const json& file) {
  return refusal(file.dump());
}

// --- BPE -----------------------------------------------------------------------------------

TEST(HfJsonBpe, MergesTheLowestRankFirstInBothSerialisations) {
  const std::vector<std::string> tokens = {"a", "b", "c", "ab", "bc", "abc"};
  // "a b" ranks first: a+b, then ab+c.
  EXPECT_EQ(load(base(tokens, json::array({"a b", "ab c"})))->encode("abc", false), (Ids{5}));
  EXPECT_EQ(load(base(tokens, json::array({"a b", "ab c"})))->encode("bca", false), (Ids{1, 2, 0}));
  // "b c" ranks first: a + bc, and no merge joins those two.
  EXPECT_EQ(load(base(tokens, json::array({"b c", "a b"})))->encode("abc", false), (Ids{0, 4}));
  EXPECT_EQ(
      load(base(tokens, json::array({json::array({"b", "c"}), json::array({"a", "b"})})))
          ->encode("abc", false),
      (Ids{0, 4}));
  // "#version" lines of merges.txt are skipped.
  EXPECT_EQ(
      load(base(tokens, json::array({"#version: 0.2", "a b", "ab c"})))->encode("abc", false),
      (Ids{5}));
}

TEST(HfJsonBpe, IgnoreMergesTakesAWholeWordFromTheVocabulary) {
  json file = base({"a", "b", "c", "abc"});
  EXPECT_EQ(load(file)->encode("abc", false), (Ids{0, 1, 2}));
  file["model"]["ignore_merges"] = true;
  EXPECT_EQ(load(file)->encode("abc", false), (Ids{3}));
}

TEST(HfJsonBpe, ByteFallbackThenUnknownTokenFusedOrNot) {
  json file = base({"<unk>", "a", "<0xC3>", "<0xA9>"});
  // No byte_fallback and no unk_token: an unknown character is dropped.
  EXPECT_EQ(load(file)->encode("aZé", false), (Ids{1}));
  file["model"]["byte_fallback"] = true;
  file["model"]["unk_token"] = "<unk>";
  // é = C3 A9, both byte tokens exist; Z = 0x5A has none, so it becomes <unk>.
  EXPECT_EQ(load(file)->encode("aé", false), (Ids{1, 2, 3}));
  EXPECT_EQ(load(file)->encode("aZZa", false), (Ids{1, 0, 0, 1}));
  file["model"]["fuse_unk"] = true;
  EXPECT_EQ(load(file)->encode("aZZa", false), (Ids{1, 0, 1}));
}

TEST(HfJsonBpe, ContinuingSubwordPrefixAndEndOfWordSuffix) {
  json prefixed = base({"a", "##b", "ab"}, json::array({json::array({"a", "##b"})}));
  prefixed["model"]["continuing_subword_prefix"] = "##";
  EXPECT_EQ(load(prefixed)->encode("ab", false), (Ids{2}));
  json suffixed = base({"a", "b</w>", "ab</w>"}, json::array({json::array({"a", "b</w>"})}));
  suffixed["model"]["end_of_word_suffix"] = "</w>";
  EXPECT_EQ(load(suffixed)->encode("ab", false), (Ids{2}));
}

TEST(HfJsonBpe, LongWordsAreCutAtMetaspaceOnlyWhereNoMergeCrossesIt) {
  // 20 x "a▁b" is one long word. With the merge a + ▁b no cut before "▁" is exact, so every
  // "a▁b" must still become one token; without it, the word is cut and each part merged alone.
  std::string word;
  for (int i = 0; i < 20; ++i)
    word += "a▁b";
  const Ids joined(20, 4);
  EXPECT_EQ(
      load(base({"▁", "a", "b", "▁b", "a▁b"}, json::array({"▁ b", "a ▁b"})))->encode(word, false),
      joined);
  Ids cut;
  for (int i = 0; i < 20; ++i)
    cut.insert(cut.end(), {1, 3});
  EXPECT_EQ(load(base({"▁", "a", "b", "▁b"}, json::array({"▁ b"})))->encode(word, false), cut);
}

// --- pre-tokenizers ------------------------------------------------------------------------

TEST(HfJsonPreTokenizer, ByteLevelSplitsAsGpt2AndMapsBytes) {
  json file = base({"a"});
  file["pre_tokenizer"] = {
      {"type", "ByteLevel"},
      {"add_prefix_space", false},
      {"trim_offsets", true},
      {"use_regex", true}};
  EXPECT_EQ(load(file)->pre_tokenize("Hello world"), (Words{"Hello", "\xC4\xA0world"}));
  // \s+(?!\S) leaves the last space of a run to the next word; 's is split off.
  EXPECT_EQ(
      load(file)->pre_tokenize("it's  12"),
      (Words{
          "it",
          "'s",
          "\xC4\xA0",
          "\xC4\xA0"
          "12"}));
  // Bytes outside the printable table: newline is U+010A "Ċ", é stays two characters.
  EXPECT_EQ(load(file)->pre_tokenize("\n"), (Words{"\xC4\x8A"}));
  EXPECT_EQ(load(file)->pre_tokenize("\xC3\xA9"), (Words{"\xC3\x83\xC2\xA9"}));
  file["pre_tokenizer"]["add_prefix_space"] = true;
  EXPECT_EQ(load(file)->pre_tokenize("Hello"), (Words{"\xC4\xA0Hello"}));
}

json split(
    const std::string& pattern_kind,
    const std::string& pattern,
    const std::string& behavior,
    bool invert = false) {
  return {
      {"type", "Split"},
      {"pattern", {{pattern_kind, pattern}}},
      {"behavior", behavior},
      {"invert", invert}};
}

TEST(HfJsonPreTokenizer, SplitBehaviors) {
  json file = base({"a"});
  auto words = [&](const std::string& behavior, bool invert = false) {
    file["pre_tokenizer"] = split("String", "-", behavior, invert);
    return load(file)->pre_tokenize("a-b--c");
  };
  EXPECT_EQ(words("Isolated"), (Words{"a", "-", "b", "-", "-", "c"}));
  EXPECT_EQ(words("Removed"), (Words{"a", "b", "c"}));
  EXPECT_EQ(words("MergedWithPrevious"), (Words{"a-", "b-", "-", "c"}));
  EXPECT_EQ(words("MergedWithNext"), (Words{"a", "-b", "-", "-c"}));
  EXPECT_EQ(words("Contiguous"), (Words{"a", "-", "b", "--", "c"}));
  // invert: the letters are the matches.
  EXPECT_EQ(words("MergedWithPrevious", true), (Words{"a", "-b", "-", "-c"}));
}

TEST(HfJsonPreTokenizer, Llama3RegexWithTheLookahead) {
  json file = base({"a"});
  file["pre_tokenizer"] = split(
      "Regex",
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      "Isolated");
  EXPECT_EQ(
      load(file)->pre_tokenize("Hello  world'S 12345\n\n x"),
      (Words{"Hello", " ", " world", "'S", " ", "123", "45", "\n\n", " x"}));
  // \s is Unicode White_Space as in Oniguruma: U+3000 is, U+180E is not (PCRE2 would say yes).
  EXPECT_EQ(load(file)->pre_tokenize("a\u3000\u3000b"), (Words{"a", "\u3000", "\u3000b"}));
  EXPECT_EQ(load(file)->pre_tokenize("a\u180e"), (Words{"a", "\u180e"}));
}

TEST(HfJsonPreTokenizer, DigitsAndWhitespaceSplit) {
  json file = base({"a"});
  file["pre_tokenizer"] = {{"type", "Digits"}, {"individual_digits", true}};
  EXPECT_EQ(load(file)->pre_tokenize("a123b"), (Words{"a", "1", "2", "3", "b"}));
  file["pre_tokenizer"]["individual_digits"] = false;
  EXPECT_EQ(load(file)->pre_tokenize("a123b٤٥"), (Words{"a", "123", "b", "٤٥"}));
  file["pre_tokenizer"] = {{"type", "WhitespaceSplit"}};
  EXPECT_EQ(load(file)->pre_tokenize(" a \t b\u00a0c "), (Words{"a", "b", "c"}));
}

TEST(HfJsonPreTokenizer, MetaspacePrependSchemes) {
  json file = base({"a"});
  file["added_tokens"] = json::array({added(1, "<s>")});
  file["pre_tokenizer"] = {
      {"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}, {"split", true}};
  EXPECT_EQ(load(file)->pre_tokenize("Hello world"), (Words{"▁Hello", "▁world"}));
  // "first": only the piece at the start of the text gets the prefix.
  EXPECT_EQ(load(file)->pre_tokenize("<s>Hi there"), (Words{"<s>", "Hi", "▁there"}));
  file["pre_tokenizer"]["prepend_scheme"] = "always";
  EXPECT_EQ(load(file)->pre_tokenize("<s>Hi there"), (Words{"<s>", "▁Hi", "▁there"}));
  file["pre_tokenizer"]["prepend_scheme"] = "never";
  EXPECT_EQ(load(file)->pre_tokenize("Hi there"), (Words{"Hi", "▁there"}));
  file["pre_tokenizer"]["prepend_scheme"] = "always";
  file["pre_tokenizer"]["split"] = false;
  EXPECT_EQ(load(file)->pre_tokenize("Hi  there"), (Words{"▁Hi▁▁there"}));
}

TEST(HfJsonPreTokenizer, TransformersLlamaPipelineReplacesTheFilesOwn) {
  // A Phi-3 / TinyLlama style file: the normaliser prepends "▁" to every piece.
  json file = base({"<unk>", "a"});
  file["added_tokens"] = json::array({added(2, "<s>")});
  file["normalizer"] = {
      {"type", "Sequence"},
      {"normalizers",
       {{{"type", "Prepend"}, {"prepend", "▁"}},
        {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}};
  auto t = load(file);
  EXPECT_EQ(t->pre_tokenize("<s>Hi there"), (Words{"<s>", "▁Hi▁there"}));
  // transformers 5's LlamaTokenizer: no normaliser, Metaspace("▁", first, split=false).
  t->use_transformers_llama_pipeline(true, false);
  EXPECT_EQ(t->pre_tokenize("<s>Hi there"), (Words{"<s>", "Hi▁there"}));
  EXPECT_EQ(t->pre_tokenize("Hi there"), (Words{"▁Hi▁there"}));
  t->use_transformers_llama_pipeline(true, true);  // legacy: "always"
  EXPECT_EQ(t->pre_tokenize("<s>Hi"), (Words{"<s>", "▁Hi"}));
  t->use_transformers_llama_pipeline(false, true);  // no add_prefix_space: "never"
  EXPECT_EQ(t->pre_tokenize("Hi"), (Words{"Hi"}));
}

// --- normalizers ---------------------------------------------------------------------------

TEST(HfJsonNormalizer, UnicodeFormsPrependReplaceAndSequence) {
  json file = base({"a"});
  auto normalized = [&](json normalizer, const std::string& text) {
    file["normalizer"] = std::move(normalizer);
    Words words = load(file)->pre_tokenize(text);
    return words.size() == 1 ? words[0] : "(" + std::to_string(words.size()) + " pieces)";
  };
  EXPECT_EQ(normalized({{"type", "NFC"}}, "e\u0301"), "\u00e9");
  EXPECT_EQ(normalized({{"type", "NFD"}}, "\u00e9"), "e\u0301");
  // Combining marks are put in canonical order (dot below, class 220, before acute, 230) ...
  EXPECT_EQ(normalized({{"type", "NFD"}}, "e\u0301\u0323"), "e\u0323\u0301");
  // ... but only with the tokenizers library's Unicode 9.0 data: U+08CC (Unicode 14, class 230)
  // stays before U+0B3C (class 7).
  EXPECT_EQ(normalized({{"type", "NFC"}}, "a\u08cc\u0b3c"), "a\u08cc\u0b3c");
  EXPECT_EQ(normalized({{"type", "NFKC"}}, "\ufb01x\u2460"), "fix1");
  EXPECT_EQ(normalized({{"type", "NFKD"}}, "\u00e9\u2460"), "e\u03011");
  EXPECT_EQ(
      normalized(
          {{"type", "Sequence"},
           {"normalizers",
            {{{"type", "Prepend"}, {"prepend", "▁"}},
             {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}}}},
          "a b"),
      "▁a▁b");
  EXPECT_EQ(
      normalized(
          {{"type", "Replace"}, {"pattern", {{"Regex", " +"}}}, {"content", "_"}}, "a   b c"),
      "a_b_c");
}

// --- added tokens --------------------------------------------------------------------------

std::vector<std::pair<std::string, int32_t>> pieces(
    const HfJsonTokenizer& t, const std::string& s) {
  std::vector<std::pair<std::string, int32_t>> out;
  for (auto& piece : t.split_added_tokens(s))
    out.emplace_back(piece.text, piece.id);
  return out;
}

using PieceList = std::vector<std::pair<std::string, int32_t>>;

TEST(HfJsonAddedTokens, LeftmostLongestAndStripping) {
  json file = base({"a", "b", "c", "d", "x"});
  file["added_tokens"] = json::array({added(5, "ab"), added(6, "abc"), added(7, "bcd")});
  auto t = load(file);
  EXPECT_EQ(pieces(*t, "xabcd"), (PieceList{{"x", -1}, {"abc", 6}, {"d", -1}}));
  // The leftmost match wins over a longer one that starts later.
  EXPECT_EQ(pieces(*t, "xabd"), (PieceList{{"x", -1}, {"ab", 5}, {"d", -1}}));

  json stripping = base({"a", "b"});
  json token = added(2, "<r>");
  token["lstrip"] = true;
  token["rstrip"] = true;
  stripping["added_tokens"] = json::array({token});
  EXPECT_EQ(
      pieces(*load(stripping), "a \t<r>  \nb"),
      (PieceList{{"a", -1}, {" \t<r>  \n", 2}, {"b", -1}}));
  EXPECT_EQ(load(stripping)->encode("a <r> b", false), (Ids{0, 2, 1}));
}

TEST(HfJsonAddedTokens, SingleWordNeedsNoWordCharacterAround) {
  json file = base({"c", "a", "t", "s", " ", "."});
  json token = added(6, "cat", false, true);
  token["single_word"] = true;
  file["added_tokens"] = json::array({token});
  auto t = load(file);
  EXPECT_EQ(pieces(*t, "cat ."), (PieceList{{"cat", 6}, {" .", -1}}));
  EXPECT_EQ(pieces(*t, "cats"), (PieceList{{"cats", -1}}));
  EXPECT_EQ(pieces(*t, "a cat."), (PieceList{{"a ", -1}, {"cat", 6}, {".", -1}}));
}

TEST(HfJsonAddedTokens, NormalizedTokensAreMatchedInTheNormalizedText) {
  json file = base({"f", "i", "x"});
  file["normalizer"] = {{"type", "NFKC"}};
  // "fi" (normalized=true) matches the NFKC form of the ligature; "ﬁx" (normalized=false) only
  // matches the raw text.
  file["added_tokens"] =
      json::array({added(3, "fi", false, true), added(4, "\ufb01x", true, false)});
  auto t = load(file);
  EXPECT_EQ(t->encode("\ufb01", false), (Ids{3}));
  EXPECT_EQ(t->encode("\ufb01x", false), (Ids{4}));
  EXPECT_EQ(t->encode("x\ufb01", false), (Ids{2, 3}));
}

// --- post-processors and decoders ----------------------------------------------------------

TEST(HfJsonPostProcessor, TemplateProcessingInsideASequence) {
  json file = base({"a", "b"});
  file["added_tokens"] = json::array({added(2, "<s>"), added(3, "</s>")});
  file["post_processor"] = {
      {"type", "Sequence"},
      {"processors",
       {{{"type", "ByteLevel"},
         {"add_prefix_space", true},
         {"trim_offsets", false},
         {"use_regex", true}},
        {{"type", "TemplateProcessing"},
         {"single",
          {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
           {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
           {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}}},
         {"pair", json::array()},
         {"special_tokens",
          {{"<s>", {{"id", "<s>"}, {"ids", {2}}, {"tokens", {"<s>"}}}},
           {"</s>", {{"id", "</s>"}, {"ids", {3}}, {"tokens", {"</s>"}}}}}}}}}};
  auto t = load(file);
  EXPECT_EQ(t->encode("ab", false), (Ids{0, 1}));
  EXPECT_EQ(t->encode("ab", true), (Ids{2, 0, 1, 3}));
  EXPECT_EQ(t->encode("", true), (Ids{2, 3}));
}

TEST(HfJsonDecoder, ByteLevelAndSkippingSpecialTokens) {
  json file = base({"Hello", "\xC4\xA0world", "\xC3\x83", "\xC2\xA9"});
  file["added_tokens"] = json::array({added(4, "<|end|>")});
  file["decoder"] = {{"type", "ByteLevel"}};
  auto t = load(file);
  EXPECT_EQ(t->decode({0, 1, 4}, false), "Hello world<|end|>");
  EXPECT_EQ(t->decode({0, 1, 4}, true), "Hello world");
  EXPECT_EQ(t->decode({2, 3}, false), "\u00e9");  // the bytes C3 A9
  EXPECT_EQ(t->decode({2}, false), "\ufffd");     // C3 alone is not UTF-8
  EXPECT_EQ(t->decode({0, 99}, false), "Hello");  // unknown ids are dropped
}

TEST(HfJsonDecoder, SentencepieceStyleSequence) {
  json file = base({"<unk>", "▁Hello", "<0xC3>", "<0xA9>", "▁▁x"});
  file["decoder"] = {
      {"type", "Sequence"},
      {"decoders",
       {{{"type", "Replace"}, {"pattern", {{"String", "▁"}}}, {"content", " "}},
        {{"type", "ByteFallback"}},
        {{"type", "Fuse"}},
        {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
  auto t = load(file);
  EXPECT_EQ(t->decode({1, 2, 3}, false), "Hello\u00e9");
  EXPECT_EQ(t->decode({4, 2}, false), " x\ufffd");  // one leading space stripped
  file["decoder"] = {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "always"}};
  EXPECT_EQ(load(file)->decode({1, 1}, false), "Hello Hello");
}

// --- the file as a whole -------------------------------------------------------------------

TEST(HfJsonTokenizer, VocabularySizeCountsAddedTokens) {
  json file = base({"a", "b"});
  file["added_tokens"] = json::array({added(2, "<s>"), added(0, "a", false, true)});
  auto t = load(file);
  EXPECT_EQ(t->vocab_size(), 3);
  EXPECT_EQ(t->token_to_id("<s>"), 2);
  EXPECT_EQ(t->token_to_id("b"), 1);
  EXPECT_EQ(t->token_to_id("zz"), -1);
  EXPECT_EQ(t->id_to_token(2), "<s>");
  EXPECT_FALSE(t->id_to_token(7).has_value());
  EXPECT_EQ(t->added_tokens().front().id, 0);  // sorted by id
}

TEST(HfJsonTokenizer, RefusesTextThatIsNotUtf8) {
  auto t = load(base({"a"}));
  EXPECT_THROW(t->encode("a\xFF", false), DataError);
}

// --- refusals ------------------------------------------------------------------------------

TEST(HfJsonRefusals, TruncatedJsonSaysLineAndColumn) {
  const std::string text = base({"a", "b"}).dump(1);
  const std::string message = refusal(text.substr(0, text.size() / 2));
  EXPECT_NE(message.find("bad/tokenizer.json"), std::string::npos) << message;
  EXPECT_NE(message.find("line"), std::string::npos) << message;
  EXPECT_NE(message.find("column"), std::string::npos) << message;
}

TEST(HfJsonRefusals, MergeNamingAMissingToken) {
  const std::string message = refusal(base({"a", "b", "ab"}, json::array({"a b", "ab c"})));
  EXPECT_NE(message.find("merge 2 ('ab' + 'c') names 'c'"), std::string::npos) << message;
  EXPECT_NE(message.find("bad/tokenizer.json"), std::string::npos) << message;
  // The merged token itself must exist too.
  EXPECT_NE(refusal(base({"a", "b"}, json::array({"a b"}))).find("names 'ab'"), std::string::npos);
}

TEST(HfJsonRefusals, UnknownModelAndComponentsByName) {
  json file = base({"a"});
  file["model"]["type"] = "Unigram";
  EXPECT_EQ(refusal(file).substr(0, 50), "unsupported model 'Unigram' in bad/tokenizer.json");
  file = base({"a"});
  file["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {{{"type", "Whitespace"}}}}};
  EXPECT_EQ(refusal(file), "unsupported pre_tokenizer 'Whitespace' in bad/tokenizer.json");
  file = base({"a"});
  file["normalizer"] = {{"type", "Lowercase"}};
  EXPECT_EQ(refusal(file), "unsupported normalizer 'Lowercase' in bad/tokenizer.json");
  file = base({"a"});
  file["decoder"] = {{"type", "WordPiece"}, {"prefix", "##"}, {"cleanup", true}};
  EXPECT_EQ(refusal(file), "unsupported decoder 'WordPiece' in bad/tokenizer.json");
  file = base({"a"});
  file["model"]["dropout"] = 0.1;
  EXPECT_NE(refusal(file).find("unsupported BPE option 'dropout 0.1'"), std::string::npos);
}

TEST(HfJsonRefusals, RegexThatPcre2RejectsWithItsMessageAndOffset) {
  json file = base({"a"});
  file["pre_tokenizer"] = split("Regex", "(?i:'s|[a-", "Isolated");
  const std::string message = refusal(file);
  EXPECT_NE(message.find("pre_tokenizer.pattern"), std::string::npos) << message;
  EXPECT_NE(
      message.find("rejected by PCRE2: missing terminating ] for character class"),
      std::string::npos)
      << message;
  EXPECT_NE(message.find("at offset 10"), std::string::npos) << message;
}

TEST(HfJsonRefusals, DuplicateIds) {
  json file = base({"a", "b"});
  file["model"]["vocab"]["b"] = 0;
  EXPECT_NE(refusal(file).find("vocabulary id 0 belongs to two tokens"), std::string::npos)
      << refusal(file);
  file = base({"a", "b"});
  file["added_tokens"] = json::array({added(2, "<s>"), added(2, "</s>")});
  EXPECT_NE(refusal(file).find("added_tokens[1].id is 2 but"), std::string::npos) << refusal(file);
  file["added_tokens"] = json::array({added(2, "<s>"), added(3, "<s>")});
  EXPECT_NE(refusal(file).find("repeats the token '<s>'"), std::string::npos) << refusal(file);
}

TEST(HfJsonRefusals, IdsOutOfRange) {
  json file = base({"a", "b"});
  file["model"]["vocab"]["b"] = 7;
  EXPECT_NE(refusal(file).find("vocabulary id 7 of token 'b' is out of range"), std::string::npos)
      << refusal(file);
  file = base({"a", "b"});
  file["model"]["vocab"]["b"] = -1;
  EXPECT_NE(refusal(file).find("is -1, out of range"), std::string::npos) << refusal(file);
  file = base({"a", "b"});
  json special = {{"id", "<s>"}, {"ids", {5}}, {"tokens", {"<s>"}}};
  json single = json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}});
  file["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", single},
      {"pair", json::array()},
      {"special_tokens", {{"<s>", special}}}};
  EXPECT_NE(refusal(file).find("names id 5, outside the vocabulary (2 ids)"), std::string::npos)
      << refusal(file);
}

}  // namespace
}  // namespace dpo
