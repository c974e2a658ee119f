// The documentation's shape: a short README whose first commands are the two set-up commands, a
// docs/ page per area that the README links to, and relative links in README.md and docs/*.md
// that all lead to an existing file and, where they name one, to an existing heading.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace nascent {
namespace {

namespace fs = std::filesystem;

fs::path source_dir() { return fs::path(NASCENT_SOURCE_DIR); }

std::vector<std::string> read_lines(const fs::path& file) {
  std::ifstream in(file);
  EXPECT_TRUE(in.good()) << "cannot read " << file;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

// A line that opens or closes a fenced code block: ``` or ~~~ after at most three spaces.
bool is_fence(const std::string& line) {
  const std::size_t start = line.find_first_not_of(' ');
  if (start == std::string::npos || start > 3) return false;
  return line.compare(start, 3, "```") == 0 || line.compare(start, 3, "~~~") == 0;
}

// The contents of each fenced code block, in order.
std::vector<std::vector<std::string>> fenced_blocks(const std::vector<std::string>& lines) {
  std::vector<std::vector<std::string>> blocks;
  bool inside = false;
  for (const auto& line : lines) {
    if (is_fence(line)) {
      inside = !inside;
      if (inside) blocks.emplace_back();
    } else if (inside) {
      blocks.back().push_back(line);
    }
  }
  return blocks;
}

// The lines outside fenced code blocks (a '#' or '](' inside code is neither heading nor link).
std::vector<std::string> prose_lines(const std::vector<std::string>& lines) {
  std::vector<std::string> prose;
  bool inside = false;
  for (const auto& line : lines) {
    if (is_fence(line)) {
      inside = !inside;
    } else if (!inside) {
      prose.push_back(line);
    }
  }
  return prose;
}

// GitHub's anchor for a heading: lower case, spaces become '-', and every character other than a
// letter, digit, '-' or '_' is dropped (bytes of non-ASCII letters are kept).
std::string anchor_of(const std::string& heading) {
  std::string anchor;
  for (const char ch : heading) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      anchor += ch;
    } else if (std::isalnum(c) || c == '-' || c == '_') {
      anchor += static_cast<char>(std::tolower(c));
    } else if (c == ' ') {
      anchor += '-';
    }
  }
  return anchor;
}

// The anchors of a Markdown file's ATX headings ("## Title"), with GitHub's "-1", "-2", ... for
// repeated ones.
std::set<std::string> anchors_of(const fs::path& file) {
  static const std::regex heading(R"(^ {0,3}#{1,6}[ \t]+(.*)$)");
  std::set<std::string> anchors;
  std::map<std::string, int> seen;
  for (const auto& line : prose_lines(read_lines(file))) {
    std::smatch match;
    if (!std::regex_match(line, match, heading)) continue;
    std::string text = match[1].str();
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.pop_back();
    // An optional closing sequence of '#'s, preceded by a space.
    const std::size_t hashes = text.find_last_not_of('#');
    if (hashes != std::string::npos && hashes + 1 < text.size() && (text[hashes] == ' ' || text[hashes] == '\t')) {
      text.erase(hashes);
      while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.pop_back();
    }
    const std::string anchor = anchor_of(text);
    const int repeats = seen[anchor]++;
    anchors.insert(repeats == 0 ? anchor : anchor + "-" + std::to_string(repeats));
  }
  return anchors;
}

// The targets of the inline links `[text](target)` outside code (blocks and `spans`).
std::vector<std::string> link_targets(const fs::path& file) {
  static const std::regex code_span("`[^`]*`");
  static const std::regex link(R"(\]\(([^()\s]+)\))");
  std::vector<std::string> targets;
  for (const auto& line : prose_lines(read_lines(file))) {
    const std::string text = std::regex_replace(line, code_span, "");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), link); it != std::sregex_iterator(); ++it)
      targets.push_back((*it)[1].str());
  }
  return targets;
}

bool is_external(const std::string& target) {
  return target.find("://") != std::string::npos || target.rfind("mailto:", 0) == 0;
}

std::vector<fs::path> docs_pages() {
  std::vector<fs::path> pages;
  const fs::path docs = source_dir() / "docs";
  if (fs::is_directory(docs))
    for (const auto& entry : fs::directory_iterator(docs))
      if (entry.is_regular_file() && entry.path().extension() == ".md") pages.push_back(entry.path());
  std::sort(pages.begin(), pages.end());
  return pages;
}

TEST(Docs, ReadmeIsShort) {
  const auto lines = read_lines(source_dir() / "README.md");
  EXPECT_GT(lines.size(), 0u);
  EXPECT_LE(lines.size(), 260u) << "README.md has " << lines.size() << " lines; move details to docs/";
}

TEST(Docs, ReadmeStartsWithTheSetUpCommands) {
  const auto blocks = fenced_blocks(read_lines(source_dir() / "README.md"));
  ASSERT_GE(blocks.size(), 2u);
  const std::vector<std::string> expected = {"bash scripts/install-deps.sh && bash scripts/quickstart.sh",
                                             "bash scripts/install-deps.sh && bash scripts/test.sh"};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    std::vector<std::string> commands;
    for (const auto& line : blocks[i])
      if (line.find_first_not_of(" \t") != std::string::npos) commands.push_back(line);
    EXPECT_EQ(commands, std::vector<std::string>{expected[i]}) << "fenced block " << i + 1 << " of README.md";
  }
}

TEST(Docs, EveryDocsPageIsLinkedFromTheReadme) {
  const auto pages = docs_pages();
  EXPECT_FALSE(pages.empty()) << "no docs/*.md";
  std::set<std::string> linked;
  for (const auto& target : link_targets(source_dir() / "README.md"))
    linked.insert(target.substr(0, target.find('#')));
  for (const auto& page : pages) {
    const std::string relative = "docs/" + page.filename().string();
    EXPECT_TRUE(linked.count(relative)) << relative << " is not linked from README.md";
  }
}

TEST(Docs, RelativeLinksLeadToExistingFilesAndHeadings) {
  std::vector<fs::path> files = {source_dir() / "README.md"};
  for (const auto& page : docs_pages()) files.push_back(page);
  std::map<fs::path, std::set<std::string>> anchors;
  std::size_t checked = 0;
  for (const auto& file : files) {
    for (const auto& target : link_targets(file)) {
      if (is_external(target)) continue;
      const std::size_t hash = target.find('#');
      const std::string path = target.substr(0, hash);
      const fs::path resolved = path.empty() ? file : (file.parent_path() / path).lexically_normal();
      const std::string where = file.filename().string() + ": (" + target + ")";
      ++checked;
      if (!fs::exists(resolved)) {
        ADD_FAILURE() << where << ": no such file " << resolved;
        continue;
      }
      if (hash == std::string::npos || resolved.extension() != ".md") continue;
      const std::string anchor = target.substr(hash + 1);
      if (!anchors.count(resolved)) anchors[resolved] = anchors_of(resolved);
      EXPECT_TRUE(anchors[resolved].count(anchor)) << where << ": no heading in " << resolved.filename()
                                                    << " gives the anchor #" << anchor;
    }
  }
  EXPECT_GT(checked, 10u) << "suspiciously few links found";
}

TEST(Docs, AnchorsFollowGitHub) {
  EXPECT_EQ(anchor_of("Set-up (Debian 12)"), "set-up-debian-12");
  EXPECT_EQ(anchor_of("Final training (`final_training`, `nascent train`)"),
            "final-training-final_training-nascent-train");
  EXPECT_EQ(anchor_of("Differentiable search: DARTS and RARTS"), "differentiable-search-darts-and-rarts");
  EXPECT_EQ(anchor_of("Resume (`--resume`)"), "resume---resume");
}

}  // namespace
}  // namespace nascent
