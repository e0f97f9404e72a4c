// The safetensors reader and writer: round trips, and a clear error for every kind of damage.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/huge_pages.h"
#include "core/proc_fields.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "test_util.h"

namespace dsv3 {
namespace {

using test::TempDir;

// Raw file: 8-byte length, header text, data.
std::string raw_file(const std::string& header, const std::string& data, uint64_t claimed_len = UINT64_MAX) {
  const uint64_t len = claimed_len == UINT64_MAX ? header.size() : claimed_len;
  std::string s(reinterpret_cast<const char*>(&len), 8);
  return s + header + data;
}

// Expects opening `content` to fail with a message containing each of `parts`.
void expect_error(const std::string& content, std::initializer_list<const char*> parts) {
  TempDir d;
  const std::string path = d.file("x.safetensors");
  test::write_text(path, content);
  try {
    SafetensorsFile f(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    for (const char* p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
  }
}

TEST(Safetensors, WriteThenReadRoundTrips) {
  TempDir d;
  SafetensorsWriter w;
  const float f[6] = {1, -2, 3.5f, 0, 1e-3f, 7};
  const int64_t ids[3] = {5, 9, 13};
  w.add_f32("a.weight", {2, 3}, f);
  w.add_bf16("b", {6}, f);
  w.add_i64("tokens", {1, 3}, ids);
  w.set_metadata("format", "pt");
  w.write(d.file("t.safetensors"));
  EXPECT_FALSE(std::filesystem::exists(d.file("t.safetensors.tmp")));

  SafetensorsFile r(d.file("t.safetensors"));
  ASSERT_EQ(r.tensors().size(), 3u);
  EXPECT_EQ(r.metadata().at("format"), "pt");
  const TensorInfo* a = r.find("a.weight");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(tensor_to_f32(*a), std::vector<float>(f, f + 6));
  EXPECT_EQ(tensor_to_f32(*r.find("b"))[2], 3.5f);  // exact in bf16
  EXPECT_EQ(tensor_to_i64(*r.find("tokens")), (std::vector<int64_t>{5, 9, 13}));
  EXPECT_EQ(r.find("missing"), nullptr);
}

// DSV3_MMAP=0 reads the whole file into memory aligned for 2 MB pages instead of mapping it:
// the same bytes, and the same errors. ReadIfFits reads a small file, DSV3_MMAP=1 maps anyway.
TEST(MappedFile, ReadIntoMemoryHoldsTheSameBytes) {
  TempDir d;
  std::string content(3 << 20, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = char((i * 2654435761u) >> 13);
  test::write_text(d.file("f.bin"), content);
  const MappedFile mapped(d.file("f.bin"));
  EXPECT_FALSE(mapped.in_memory());
  ::setenv("DSV3_MMAP", "0", 1);
  const MappedFile read(d.file("f.bin"));
  EXPECT_THROW(MappedFile(d.file("missing.bin")), Error);
  ::unsetenv("DSV3_MMAP");
  EXPECT_TRUE(read.in_memory());
  ASSERT_EQ(read.size(), content.size());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(read.data()) % (2u << 20), 0u);
  EXPECT_EQ(std::memcmp(read.data(), mapped.data(), content.size()), 0);

  set_default_load_mode(LoadMode::ReadIfFits);
  const MappedFile fits(d.file("f.bin"));
  ::setenv("DSV3_MMAP", "1", 1);
  const MappedFile forced_map(d.file("f.bin"));
  ::unsetenv("DSV3_MMAP");
  set_default_load_mode(LoadMode::Map);
  EXPECT_TRUE(fits.in_memory());
  EXPECT_FALSE(forced_map.in_memory());
  EXPECT_EQ(std::memcmp(fits.data(), content.data(), content.size()), 0);
}

// The weight-buffer allocator: large vectors start on a 2 MB boundary, small ones on the heap,
// and both behave as vectors (grow, copy, free).
TEST(HugePages, VectorsOfAnySizeWork) {
  HugeVector<uint16_t> big(3 << 20, 7), small(100, 3);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.data()) % kHugePageBytes, 0u);
  big.push_back(9);
  HugeVector<uint16_t> copy = big;
  EXPECT_EQ(copy.size(), size_t(3 << 20) + 1);
  EXPECT_EQ(copy[12345], 7);
  EXPECT_EQ(copy.back(), 9);
  EXPECT_EQ(small[99], 3);
  EXPECT_GE(anon_huge_page_bytes(), -1);
}

// The /proc reader behind MemAvailable (read or map?), VmRSS/VmHWM and AnonHugePages: the key
// must match whole (a longer key sharing its start is another line), kB become bytes.
TEST(ProcFields, ReadsOneKbLineAsBytes) {
  test::TempDir dir;
  const std::string path = dir.file("meminfo");
  std::FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("MemTotal:       24000000 kB\nMemAvailableX:  1 kB\nMemAvailable:   123456 kB\nHugePages_Total:       0\n", f);
  std::fclose(f);
  EXPECT_EQ(proc_kb_field_bytes(path.c_str(), "MemAvailable:"), 123456LL * 1024);
  EXPECT_EQ(proc_kb_field_bytes(path.c_str(), "MemTotal:"), 24000000LL * 1024);
  EXPECT_EQ(proc_kb_field_bytes(path.c_str(), "HugePages_Total:"), -1);  // no "kB": not a size
  EXPECT_EQ(proc_kb_field_bytes(path.c_str(), "SwapFree:"), -1);
  EXPECT_EQ(proc_kb_field_bytes(dir.file("absent").c_str(), "MemAvailable:"), -1);
  EXPECT_GT(proc_kb_field_bytes("/proc/self/status", "VmRSS:"), 0);
}

TEST(Safetensors, TooShortFile) { expect_error("abc", {"too short"}); }

TEST(Safetensors, HeaderClaimsMoreBytesThanTheFile) {
  expect_error(raw_file("{}", "", 1000), {"header claims 1000 bytes"});
}

TEST(Safetensors, HeaderIsNotJson) { expect_error(raw_file("{not json", ""), {"not valid JSON"}); }

TEST(Safetensors, HeaderIsNotAnObject) { expect_error(raw_file("[1,2]", ""), {"not a JSON object"}); }

TEST(Safetensors, DataTruncated) {
  expect_error(raw_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", std::string(8, '\0')),
               {"'w'", "truncated"});
}

TEST(Safetensors, SizeDisagreesWithShape) {
  expect_error(raw_file(R"({"w":{"dtype":"BF16","shape":[4],"data_offsets":[0,6]}})", std::string(6, '\0')),
               {"'w'", "needs 8"});
}

TEST(Safetensors, UnknownDtype) {
  expect_error(raw_file(R"({"w":{"dtype":"Q4_K","shape":[1],"data_offsets":[0,1]}})", std::string(1, '\0')),
               {"'w'", "unsupported dtype Q4_K"});
}

TEST(Safetensors, NegativeShapeAndBadOffsets) {
  expect_error(raw_file(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", std::string(4, '\0')),
               {"'w'", "non-negative"});
  expect_error(raw_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", std::string(4, '\0')),
               {"'w'", "begin"});
  expect_error(raw_file(R"({"w":{"dtype":"F32","shape":[1]}})", std::string(4, '\0')), {"'w'", "data_offsets"});
}

TEST(Safetensors, HugeShapeDoesNotOverflow) {
  expect_error(raw_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}})",
                        std::string(4, '\0')),
               {"'w'"});
}

TEST(Safetensors, MissingFile) {
  try {
    SafetensorsFile f("/nonexistent/x.safetensors");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos);
  }
}

}  // namespace
}  // namespace dsv3
