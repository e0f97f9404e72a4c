#include "dist/timeline.h"

#include <cstdio>

#include "core/error.h"
#include "io/json_file.h"
#include "io/safetensors_writer.h"

namespace dsv3::dist {

Timeline::Timeline(Communicator& comm) : comm_(comm) {
  comm_.barrier();
  zero_ = std::chrono::steady_clock::now();
}

double Timeline::now_us() const {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - zero_).count();
}

Timeline::Span::Span(Timeline* t, const char* name, const char* category)
    : t_(t), name_(name), category_(category), start_(t ? t->now_us() : 0) {}

Timeline::Span::~Span() {
  if (t_) t_->add(name_, category_, start_, t_->now_us());
}

void Timeline::add(const char* name, const char* category, double start_us, double end_us) {
  events_.push_back({name, category, start_us, end_us - start_us});
}

double Timeline::total_us(const std::string& category) const {
  double t = 0;
  for (const Event& e : events_)
    if (category == e.category) t += e.dur_us;
  return t;
}

void Timeline::write(const std::string& path) const {
  // Names and categories are literals without quotes or backslashes: no escaping needed.
  std::string mine;
  char buf[320];
  for (const Event& e : events_) {
    std::snprintf(buf, sizeof buf, "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%d,\"tid\":0},\n",
                  e.name, e.category, e.start_us, e.dur_us, comm_.rank());
    mine += buf;
  }
  const std::vector<int64_t> sizes = comm_.all_gather(std::vector<int64_t>{int64_t(mine.size())});
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  std::string all(size_t(total), '\0');
  comm_.all_gather(mine.data(), all.data(), sizes, Elem::U8);
  if (comm_.rank() != 0) return;
  std::string json = "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  for (int r = 0; r < comm_.size(); ++r)
    json += "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":" + std::to_string(r) + ",\"args\":{\"name\":\"rank " +
            std::to_string(r) + "\"}},\n";
  json += all;
  json.resize(json.size() - 2);  // the last ",\n"
  json += "\n]}\n";
  write_file_atomic(path, json);
}

}  // namespace dsv3::dist
