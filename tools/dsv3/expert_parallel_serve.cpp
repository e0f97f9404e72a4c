#include "expert_parallel_serve.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>

#include "core/error.h"

namespace dsv3::cli {

namespace {

enum Kind : int64_t { kStop = 0, kMain = 1, kMtp = 2 };
enum PrefixEvent : int64_t { kRestore = 1, kStore = 2 };
constexpr int kHeaderSize = 5;
constexpr int kHeaderTag = 7301;

// A follower waits for the next call as long as the server is idle: MPI's blocking receive
// would poll and keep a core busy all that time, so it polls for a millisecond (a busy server's
// next step comes sooner) and then sleeps 1 ms between polls.
void wait_for_header(dist::Communicator& world, int64_t* header) {
  const auto req = world.recv_start(header, kHeaderSize, dist::Elem::I64, 0, kHeaderTag);
  const auto t0 = std::chrono::steady_clock::now();
  while (!req->test())
    if (std::chrono::steady_clock::now() - t0 > std::chrono::milliseconds(1))
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

// Rank 0: the header goes to each rank point to point (what wait_for_header receives).
void send_header(dist::Communicator& world, const int64_t* header) {
  for (int r = 1; r < world.size(); ++r) world.send(header, kHeaderSize, dist::Elem::I64, r, kHeaderTag);
}

struct Call {
  int64_t kind = kStop;
  TokenBatch batch;
  std::vector<int64_t> ids, live;
  std::vector<int64_t> prefix_events;
  std::vector<float> prev;  // [rows, hidden], MTP only
};

Call receive_call(dist::Communicator& world, int64_t hidden) {
  int64_t header[kHeaderSize] = {};
  wait_for_header(world, header);
  Call c;
  c.kind = header[0];
  if (c.kind == kStop) return c;
  const int64_t n = header[1], slots = header[2], live = header[3];
  std::vector<int64_t> body(size_t(3 * n + slots + live));
  world.broadcast(body.data(), int64_t(body.size()), dist::Elem::I64, 0);
  const int64_t* v = body.data();
  for (int64_t i = 0; i < n; ++i) c.batch.add(int32_t(v[i]), int32_t(v[n + i]), int32_t(v[2 * n + i]));
  c.ids.assign(body.begin() + 3 * n, body.begin() + 3 * n + slots);
  c.live.assign(body.begin() + 3 * n + slots, body.end());
  c.prefix_events.resize(size_t(header[4]));
  if (header[4] > 0) world.broadcast(c.prefix_events.data(), header[4], dist::Elem::I64, 0);
  if (c.kind == kMtp) {
    c.prev.resize(size_t(n * hidden));
    world.broadcast(c.prev.data(), n * hidden, dist::Elem::F32, 0);
  }
  return c;
}

// The caches of the sequences in `live` only.
void drop_finished(std::map<int64_t, SequenceCache>& caches, const std::vector<int64_t>& live) {
  for (auto it = caches.begin(); it != caches.end();)
    it = std::find(live.begin(), live.end(), it->first) == live.end() ? caches.erase(it) : std::next(it);
}

struct Caches {
  std::map<int64_t, SequenceCache> main, mtp;  // by sequence id
};

// Repeats rank 0's prefix-cache restores and stores (StepBroadcaster's events) in its order.
void mirror_prefix_cache(const std::vector<int64_t>& events, const Model& model, PrefixCache& prefix, Caches& caches) {
  for (size_t at = 0; at < events.size();) {
    const int64_t kind = events[at], id = events[at + 1], restored = events[at + 2], len = events[at + 4];
    const bool mtp = events[at + 3] != 0;
    const std::vector<int32_t> prompt(events.begin() + int64_t(at) + 5, events.begin() + int64_t(at) + 5 + len);
    at += size_t(5 + len);
    if (kind == kRestore) {
      SequenceCache& main = caches.main.insert_or_assign(id, model.new_cache()).first->second;
      SequenceCache* m = mtp ? &caches.mtp.insert_or_assign(id, model.new_mtp_cache()).first->second : nullptr;
      const int64_t n = prefix.restore(prompt, main, m);
      if (n != restored)
        fail("serve --ep: this rank's prefix cache holds ", n, " positions of sequence ", id, "'s prompt, rank 0's ",
             restored, " (the ranks are out of step)");
      continue;
    }
    const auto it = caches.main.find(id), m = caches.mtp.find(id);
    if (it == caches.main.end() || (mtp && m == caches.mtp.end()))
      fail("serve --ep: rank 0 stored the prompt of sequence ", id, ", which this rank holds no cache of (the ranks are out of step)");
    prefix.store(prompt, it->second, mtp ? &m->second : nullptr);
  }
}

// A rank without rows in a call still takes part in each of its MoE layers' exchanges.
void take_part_in_moe_layers(const Model& model, bool mtp, MoeRunner& moe) {
  const RouterParams router = model.block_context().router;
  std::vector<float> none(size_t(model.config().hidden_size));
  const auto layer = [&](const LayerWeights& l) {
    if (l.is_moe) moe.forward(none.data(), none.data(), 0, l.moe, router, nullptr);
  };
  if (mtp) layer(model.weights().mtp[0].block);
  else
    for (const LayerWeights& l : model.weights().layers) layer(l);
}

// --dp-attention: runs this rank's own sequences' rows of the call (caches[slot] is this rank's
// cache of each own slot); out [n, hidden] receives every row's output, in the batch's order.
void forward_own_rows(const Model& model, dist::Communicator& world, MoeRunner& moe, const TokenBatch& batch,
                      const std::vector<int64_t>& ids, SequenceCache* const* caches, const float* mtp_prev, float* out) {
  const int64_t N = world.size(), H = model.config().hidden_size;
  const auto owner = [&](int64_t i) { return ids[size_t(batch.seq[size_t(i)])] % N; };
  // The slots of each rank, renumbered in slot order.
  std::vector<int32_t> local(ids.size());
  std::vector<SequenceCache*> mine;
  for (size_t s = 0; s < ids.size(); ++s) {
    if (ids[s] % N != world.rank()) continue;
    local[s] = int32_t(mine.size());
    mine.push_back(caches[s]);
  }
  TokenBatch own;
  std::vector<float> prev;
  std::vector<int64_t> counts(static_cast<size_t>(N));
  for (int64_t i = 0; i < batch.size(); ++i) {
    counts[size_t(owner(i))] += H;
    if (owner(i) != world.rank()) continue;
    own.add(batch.tokens[size_t(i)], batch.pos[size_t(i)], local[size_t(batch.seq[size_t(i)])]);
    if (mtp_prev) prev.insert(prev.end(), mtp_prev + i * H, mtp_prev + (i + 1) * H);
  }
  std::vector<float> y(size_t(own.size() * H) + 1), all(size_t(batch.size() * H));
  if (own.size() == 0) take_part_in_moe_layers(model, mtp_prev != nullptr, moe);
  else if (mtp_prev) model.mtp_forward(0, prev.data(), own, mine.data(), y.data());
  else model.forward(own, mine.data(), y.data());
  world.all_gather(y.data(), all.data(), counts, dist::Elem::F32);
  // all holds rank 0's rows, then rank 1's, ...: back to the batch's order.
  std::vector<int64_t> at(static_cast<size_t>(N));
  for (int64_t q = 1; q < N; ++q) at[size_t(q)] = at[size_t(q - 1)] + counts[size_t(q - 1)] / H;
  for (int64_t i = 0; i < batch.size(); ++i)
    std::memcpy(out + i * H, all.data() + at[size_t(owner(i))]++ * H, size_t(H) * sizeof(float));
}

}  // namespace

bool StepBroadcaster::forward(const TokenBatch& batch, SequenceCache* const* caches, const std::vector<int64_t>& ids,
                              const float* mtp_prev, float* out) {
  if (!model_) return false;
  forward_own_rows(*model_, world_, *moe_, batch, ids, caches, mtp_prev, out);
  return true;
}

void StepBroadcaster::before_forward(const TokenBatch& batch, const std::vector<int64_t>& ids,
                                     const std::vector<int64_t>& live, const float* mtp_prev) {
  const int64_t n = batch.size();
  const int64_t header[kHeaderSize] = {mtp_prev ? kMtp : kMain, n, int64_t(ids.size()), int64_t(live.size()),
                                       int64_t(prefix_events_.size())};
  send_header(world_, header);
  std::vector<int64_t> body;
  body.reserve(size_t(3 * n) + ids.size() + live.size());
  for (const auto* v : {&batch.tokens, &batch.pos, &batch.seq}) body.insert(body.end(), v->begin(), v->end());
  body.insert(body.end(), ids.begin(), ids.end());
  body.insert(body.end(), live.begin(), live.end());
  world_.broadcast(body.data(), int64_t(body.size()), dist::Elem::I64, 0);
  if (!prefix_events_.empty()) world_.broadcast(prefix_events_.data(), header[4], dist::Elem::I64, 0);
  prefix_events_.clear();
  if (mtp_prev) world_.broadcast(const_cast<float*>(mtp_prev), n * hidden_, dist::Elem::F32, 0);
}

void StepBroadcaster::prefix_restored(int64_t id, const std::vector<int32_t>& prompt, int64_t restored, bool mtp) {
  prefix_events_.insert(prefix_events_.end(), {kRestore, id, restored, int64_t(mtp), int64_t(prompt.size())});
  prefix_events_.insert(prefix_events_.end(), prompt.begin(), prompt.end());
}

void StepBroadcaster::prefix_stored(int64_t id, const std::vector<int32_t>& prompt, bool mtp) {
  prefix_events_.insert(prefix_events_.end(), {kStore, id, 0, int64_t(mtp), int64_t(prompt.size())});
  prefix_events_.insert(prefix_events_.end(), prompt.begin(), prompt.end());
}

void StepBroadcaster::stop() {
  const int64_t header[kHeaderSize] = {kStop, 0, 0, 0, 0};
  send_header(world_, header);
}

void follow_steps(const Model& model, dist::Communicator& world, int64_t prefix_cache_bytes, MoeRunner* dp_moe,
                  bool runs_mtp) {
  const int64_t H = model.config().hidden_size;
  Caches all;
  PrefixCache prefix(prefix_cache_bytes);
  std::vector<float> out;
  for (;;) {
    const Call c = receive_call(world, H);
    if (c.kind == kStop) return;
    const bool mtp = c.kind == kMtp;
    // Before dropping: rank 0 stores a prompt at the end of a step, before it lets its sequence go.
    mirror_prefix_cache(c.prefix_events, model, prefix, all);
    drop_finished(all.main, c.live);
    drop_finished(all.mtp, c.live);
    if (mtp && !runs_mtp) continue;
    std::map<int64_t, SequenceCache>& caches = mtp ? all.mtp : all.main;
    // Each slot's rows start where its cache must end (rows are in position order per slot).
    std::vector<int64_t> first(c.ids.size(), -1);
    for (int64_t i = c.batch.size() - 1; i >= 0; --i) first[size_t(c.batch.seq[size_t(i)])] = c.batch.pos[size_t(i)];
    std::vector<SequenceCache*> slots;
    for (size_t s = 0; s < c.ids.size(); ++s) {
      if (dp_moe && c.ids[s] % world.size() != world.rank()) {  // another rank's sequence
        slots.push_back(nullptr);
        continue;
      }
      auto it = caches.find(c.ids[s]);
      if (it == caches.end()) it = caches.emplace(c.ids[s], mtp ? model.new_mtp_cache() : model.new_cache()).first;
      SequenceCache& cache = it->second;
      if (first[s] < 0 || cache.length() < first[s])
        fail("serve --ep: sequence ", c.ids[s], " has ", cache.length(), " cached positions but rank 0's step starts at ",
             first[s], " (the ranks are out of step)");
      cache.truncate(first[s]);
      slots.push_back(&cache);
    }
    out.resize(size_t(c.batch.size() * H));
    if (dp_moe) forward_own_rows(model, world, *dp_moe, c.batch, c.ids, slots.data(), mtp ? c.prev.data() : nullptr, out.data());
    else if (mtp) model.mtp_forward(0, c.prev.data(), c.batch, slots.data(), out.data());
    else model.forward(c.batch, slots.data(), out.data());
  }
}

}  // namespace dsv3::cli
