#include "io/safetensors_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "io/json_file.h"

namespace dsv3 {

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape,
                            const void* data, size_t nbytes) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  if (size_t(n) * dtype_size(dtype) != nbytes) fail("safetensors writer: '", name, "' size mismatch");
  const auto* p = static_cast<const uint8_t*>(data);
  entries_.push_back({name, dtype, std::move(shape), std::vector<uint8_t>(p, p + nbytes)});
}

void SafetensorsWriter::add_f32(const std::string& name, std::vector<int64_t> shape, const float* data) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  add(name, DType::F32, std::move(shape), data, size_t(n) * 4);
}

void SafetensorsWriter::add_bf16(const std::string& name, std::vector<int64_t> shape, const float* data) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::vector<uint16_t> h(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) h[size_t(i)] = f32_to_bf16(data[i]);
  add(name, DType::BF16, std::move(shape), h.data(), h.size() * 2);
}

void SafetensorsWriter::add_i64(const std::string& name, std::vector<int64_t> shape, const int64_t* data) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  add(name, DType::I64, std::move(shape), data, size_t(n) * 8);
}

void SafetensorsWriter::write(const std::string& path) const {
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& e : entries_) {
    header[e.name] = {{"dtype", std::string(dtype_name(e.dtype))},
                      {"shape", e.shape},
                      {"data_offsets", {offset, offset + e.bytes.size()}}};
    offset += e.bytes.size();
  }
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::string h = header.dump();
  while ((h.size() + 8) % 8) h.push_back(' ');  // keeps the data section 8-byte aligned
  std::string out;
  out.reserve(8 + h.size() + offset);
  const uint64_t hlen = h.size();
  out.append(reinterpret_cast<const char*>(&hlen), 8);
  out += h;
  for (const auto& e : entries_) out.append(reinterpret_cast<const char*>(e.bytes.data()), e.bytes.size());
  write_file_atomic(path, out);
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(tmp, ": cannot create: ", std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      fail(tmp, ": write failed: ", std::strerror(err));
    }
    done += size_t(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) fail(tmp, ": cannot flush: ", std::strerror(errno));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) fail(path, ": rename failed: ", std::strerror(errno));
}

}  // namespace dsv3
