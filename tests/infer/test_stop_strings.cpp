// Stop strings that span token boundaries, overlap, or never complete.
#include <gtest/gtest.h>

#include "infer/stop_strings.h"

namespace dsv3 {
namespace {

// Feeds the pieces and returns (everything released, stopped).
std::pair<std::string, bool> run(std::vector<std::string> stops, const std::vector<std::string>& pieces) {
  StopMatcher m(std::move(stops));
  std::string out;
  for (const auto& p : pieces) {
    out += m.push(p);
    if (m.stopped()) return {out, true};
  }
  return {out + m.flush(), false};
}

TEST(StopStrings, WithinOnePiece) { EXPECT_EQ(run({"END"}, {"abcENDdef"}), std::make_pair(std::string("abc"), true)); }

TEST(StopStrings, AcrossPieces) {
  EXPECT_EQ(run({"END"}, {"ab", "cE", "N", "Dxyz"}), std::make_pair(std::string("abc"), true));
  EXPECT_EQ(run({"\n\n"}, {"line", "\n", "\n", "more"}), std::make_pair(std::string("line"), true));
}

TEST(StopStrings, HoldsBackOnlyWhatCouldStillMatch) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.push("abE"), "ab");
  EXPECT_EQ(m.push("N"), "");
  EXPECT_EQ(m.push("X"), "ENX");  // the prefix broke: released
  EXPECT_EQ(m.push("Q"), "Q");
  EXPECT_EQ(m.flush(), "");
}

TEST(StopStrings, PartialMatchAtTheEndIsReleased) {
  EXPECT_EQ(run({"END"}, {"abc", "EN"}), std::make_pair(std::string("abcEN"), false));
}

TEST(StopStrings, EarliestOfSeveralWins) {
  EXPECT_EQ(run({"cd", "b"}, {"a", "bcd"}), std::make_pair(std::string("a"), true));
  EXPECT_EQ(run({"xyz", "yq"}, {"axy", "q"}), std::make_pair(std::string("ax"), true));
}

TEST(StopStrings, NoStopsPassEverything) {
  EXPECT_EQ(run({}, {"a", "b"}), std::make_pair(std::string("ab"), false));
  EXPECT_EQ(run({""}, {"a", "b"}), std::make_pair(std::string("ab"), false));
}

TEST(StopStrings, MultibyteCharacters) {
  EXPECT_EQ(run({"é!"}, {"caf", "é", "!"}), std::make_pair(std::string("caf"), true));
  EXPECT_EQ(run({"é!"}, {"café", "?"}), std::make_pair(std::string("café?"), false));
}

}  // namespace
}  // namespace dsv3
