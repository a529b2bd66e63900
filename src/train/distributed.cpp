// c10d rendezvous, process group and collectives (see distributed.h). Compiled on its own (not in a
// unity batch): c10d's Gloo header needs USE_C10D_GLOO defined before it is read.
#include "train/distributed.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/progress.h"
#include "nn/threads.h"

#if defined(LOID_HAVE_C10D_GLOO)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace loid {

namespace {

std::string tag(int rank, int world) {
  return "rank " + std::to_string(rank) + " of " + std::to_string(world);
}

// The first difference of two settings strings: a JSON key path when both are JSON objects.
std::string first_difference(const std::string& a, const std::string& b, int rank_b) {
  try {
    const auto ja = nlohmann::json::parse(a), jb = nlohmann::json::parse(b);
    const auto patch = nlohmann::json::diff(ja, jb);
    if (!patch.empty()) {
      const auto& op = patch.front();
      const std::string path = op.value("path", std::string("/"));
      std::string theirs = "(absent)", ours = "(absent)";
      try {
        theirs = ja.at(nlohmann::json::json_pointer(path)).dump();
      } catch (const std::exception&) {
      }
      try {
        ours = jb.at(nlohmann::json::json_pointer(path)).dump();
      } catch (const std::exception&) {
      }
      return path + ": " + theirs + " on rank 0, " + ours + " on rank " + std::to_string(rank_b);
    }
  } catch (const std::exception&) {
  }
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return "from character " + std::to_string(i) + ": '" + a.substr(i, 40) + "' on rank 0, '" +
         b.substr(i, 40) + "' on rank " + std::to_string(rank_b);
}

}  // namespace

#if defined(LOID_HAVE_C10D_GLOO)

struct Distributed::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

bool distributed_available() {
  return true;
}

namespace {

std::vector<std::uint8_t> bytes_of(const std::string& s) {
  return {s.begin(), s.end()};
}
std::string string_of(const std::vector<std::uint8_t>& b) {
  return {b.begin(), b.end()};
}

}  // namespace

void Distributed::join(const DistJob& job) {
  if (!job.distributed()) return;
  if (impl_ != nullptr) throw Error("distributed: this process has already joined a job");
  auto impl = std::make_unique<Impl>();
  const auto timeout =
      std::chrono::milliseconds(static_cast<std::int64_t>(job.timeout_seconds * 1000));
  const std::string where = job.host + ":" + std::to_string(job.port);
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(job.port);
  so.isServer = job.rank == 0;
  so.numWorkers = c10::nullopt;
  so.waitWorkers = false;
  so.timeout = timeout;
  try {
    impl->store = c10::make_intrusive<c10d::TCPStore>(job.host, so);
  } catch (const std::exception& e) {
    std::string first_line = e.what();
    first_line = first_line.substr(0, first_line.find('\n'));
    throw Error(job.rank == 0 ? "distributed: rank 0 cannot listen on " + where +
                                    " (is the port in use?): " + first_line
                              : "distributed: " + tag(job.rank, job.world_size) +
                                    " cannot reach the rendezvous at " + where + " within " +
                                    std::to_string(static_cast<int>(job.timeout_seconds)) +
                                    " s: " + first_line);
  }
  // Every rank announces itself with its world size; all wait for all, then compare.
  impl->store->set("loid/joined/" + std::to_string(job.rank),
                   bytes_of(std::to_string(job.world_size)));
  std::vector<std::string> keys;
  for (int r = 0; r < job.world_size; ++r) keys.push_back("loid/joined/" + std::to_string(r));
  try {
    impl->store->wait(keys, timeout);
  } catch (const std::exception&) {
    std::string missing;
    try {
      for (int r = 0; r < job.world_size; ++r)
        if (!impl->store->check({keys[static_cast<std::size_t>(r)]}))
          missing += (missing.empty() ? "" : ", ") + std::to_string(r);
    } catch (const std::exception&) {
      throw Error("distributed: " + tag(job.rank, job.world_size) + ": lost the rendezvous at " +
                  where + " (rank 0 stopped; is the world size right on every process?)");
    }
    throw Error("distributed: " + tag(job.rank, job.world_size) + ": rank(s) " + missing +
                " did not join at " + where + " within " +
                std::to_string(static_cast<int>(job.timeout_seconds)) +
                " s (is the world size right on every process?)");
  }
  for (int r = 0; r < job.world_size; ++r) {
    const std::string theirs = string_of(impl->store->get(keys[static_cast<std::size_t>(r)]));
    if (theirs != std::to_string(job.world_size))
      throw UsageError("distributed: rank " + std::to_string(r) + " was started with world size " +
                       theirs + ", this rank (" + std::to_string(job.rank) + ") with " +
                       std::to_string(job.world_size));
  }
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    // On one machine the ranks talk over the loopback; across machines each binds the address
    // its own hostname resolves to (or GLOO_SOCKET_IFNAME's interface).
    const bool loopback = job.host == "localhost" || job.host.rfind("127.", 0) == 0;
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
    options->devices.push_back(loopback
                                   ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                               : ifname != nullptr && *ifname != '\0'
                                   ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                                   : c10d::ProcessGroupGloo::createDefaultDevice());
    options->threads = 1;
    impl->group =
        c10::make_intrusive<c10d::ProcessGroupGloo>(impl->store, job.rank, job.world_size, options);
  } catch (const std::exception& e) {
    throw Error("distributed: " + tag(job.rank, job.world_size) +
                ": the Gloo process group could not connect: " + e.what());
  }
  rank_ = job.rank;
  world_ = job.world_size;
  impl_ = impl.release();
}

Distributed::~Distributed() {
  delete impl_;
}

namespace {

// Runs a collective, turning c10d's errors into one that says what was being done and why it
// probably failed.
template <typename F>
void collective(int rank, int world, const std::string& what, F&& f, double* seconds = nullptr,
                std::int64_t* calls = nullptr) {
  const auto start = std::chrono::steady_clock::now();
  try {
    f();
    if (seconds != nullptr)
      *seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (calls != nullptr) ++*calls;
  } catch (const std::exception& e) {
    std::string first_line = e.what();
    first_line = first_line.substr(0, first_line.find('\n'));
    throw PeerLostError("distributed: " + tag(rank, world) + ": " + what +
                        " failed: another rank has stopped or is not responding (" + first_line +
                        ")");
  }
}

}  // namespace

void Distributed::allreduce_sum(std::vector<torch::Tensor>& tensors, const std::string& what) {
  if (!active()) return;
  for (auto& t : tensors) {
    // Gloo reduces host memory: tensors on a GPU make the round trip through the CPU.
    const bool host = t.device().is_cpu() && t.is_contiguous();
    std::vector<torch::Tensor> one{host ? t : t.to(torch::kCPU).contiguous()};
    collective(
        rank_, world_, what,
        [&] { impl_->group->allreduce(one, c10d::AllreduceOptions())->wait(); },
        &collective_seconds_, &collective_calls_);
    if (!host) t.copy_(one[0]);
  }
}

double Distributed::sum(double value, const std::string& what) {
  if (!active()) return value;
  std::vector<torch::Tensor> t{torch::full({1}, value, torch::kFloat64)};
  allreduce_sum(t, what);
  return t[0].item<double>();
}

double Distributed::same_everywhere(double value) {
  if (!active()) return value;
  return sum(main() ? value : 0.0, "sharing rank 0's validation figure");
}

void Distributed::allreduce_gradients(const std::vector<torch::Tensor>& params) {
  if (!active() || params.empty()) return;
  // Which parameters have a gradient on some rank: those without one anywhere keep none (the
  // optimiser skips them, as one process's would).
  std::vector<torch::Tensor> defined{
      torch::zeros({static_cast<std::int64_t>(params.size())}, torch::kInt64)};
  for (std::size_t j = 0; j < params.size(); ++j)
    if (params[j].grad().defined()) defined[0][static_cast<std::int64_t>(j)] = 1;
  allreduce_sum(defined, "the gradient all-reduce");
  std::vector<torch::Tensor> grads, flat_parts;
  for (std::size_t j = 0; j < params.size(); ++j) {
    if (defined[0][static_cast<std::int64_t>(j)].item<std::int64_t>() == 0) continue;
    torch::Tensor p = params[j];
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    grads.push_back(p.grad());
    flat_parts.push_back(p.grad().reshape({-1}).to(torch::kCPU));
  }
  if (grads.empty()) return;
  std::vector<torch::Tensor> flat{torch::cat(flat_parts)};
  allreduce_sum(flat, "the gradient all-reduce");
  std::int64_t at = 0;
  for (auto& g : grads) {
    const std::int64_t n = g.numel();
    g.copy_(flat[0].narrow(0, at, n).view(g.sizes()));
    at += n;
  }
}

torch::Tensor Distributed::gather_rows(const torch::Tensor& local, std::int64_t total) {
  if (!active()) return local;
  const auto [lo, hi] = shard(total);
  if (local.size(0) != hi - lo)
    throw Error("distributed: gather_rows: this rank holds " + std::to_string(local.size(0)) +
                " rows, its shard is " + std::to_string(hi - lo));
  const std::int64_t most = (total + world_ - 1) / world_;
  auto sizes = local.sizes().vec();
  sizes[0] = most;
  auto padded = torch::zeros(sizes, local.options().device(torch::kCPU));
  if (hi > lo) padded.narrow(0, 0, hi - lo).copy_(local);
  std::vector<torch::Tensor> input{padded};
  std::vector<std::vector<torch::Tensor>> output(1);
  for (int r = 0; r < world_; ++r) output[0].push_back(torch::empty_like(padded));
  collective(
      rank_, world_, "gathering rows", [&] { impl_->group->allgather(output, input)->wait(); },
      &collective_seconds_, &collective_calls_);
  std::vector<torch::Tensor> parts;
  for (int r = 0; r < world_; ++r) {
    const std::int64_t a = total * r / world_, b = total * (r + 1) / world_;
    parts.push_back(output[0][static_cast<std::size_t>(r)].narrow(0, 0, b - a));
  }
  return torch::cat(parts, 0).to(local.device());
}

void Distributed::barrier(const std::string& what) {
  if (!active()) return;
  // An all-reduce of one number: a barrier with the same timeout and error as every collective.
  std::vector<torch::Tensor> t{torch::zeros({1}, torch::kInt64)};
  allreduce_sum(t, what);
}

void Distributed::leave_last(const std::string& prefix, const std::string& what) {
  // Rank 0 serves the store: it leaves a store exchange only after every other rank has said it
  // is done with it, so that none of them loses the store halfway.
  collective(rank_, world_, what, [&] {
    if (!main()) {
      impl_->store->set(prefix + "done/" + std::to_string(rank_), bytes_of("1"));
    } else {
      std::vector<std::string> done;
      for (int r = 1; r < world_; ++r) done.push_back(prefix + "done/" + std::to_string(r));
      impl_->store->wait(done);
    }
  });
}

void Distributed::meet(const std::string& what, double timeout_seconds) {
  if (!active()) return;
  const std::string prefix = "loid/meet/" + std::to_string(meetings_++) + "/";
  std::vector<std::string> keys;
  for (int r = 0; r < world_; ++r) keys.push_back(prefix + std::to_string(r));
  collective(rank_, world_, what, [&] {
    impl_->store->set(prefix + std::to_string(rank_), bytes_of("1"));
    impl_->store->wait(
        keys, std::chrono::milliseconds(static_cast<std::int64_t>(timeout_seconds * 1000)));
  });
  leave_last(prefix, what);
}

void Distributed::agree(const std::string& what, const std::string& value) {
  if (!active()) return;
  const std::string prefix = "loid/agree/" + std::to_string(agreements_++) + "/";
  collective(rank_, world_, "comparing " + what,
             [&] { impl_->store->set(prefix + std::to_string(rank_), bytes_of(value)); });
  std::vector<std::string> values;
  collective(rank_, world_, "comparing " + what, [&] {
    for (int r = 0; r < world_; ++r)
      values.push_back(string_of(impl_->store->get(prefix + std::to_string(r))));
  });
  leave_last(prefix, "comparing " + what);  // all see the verdict, not a lost store
  for (int r = 1; r < world_; ++r) {
    if (values[static_cast<std::size_t>(r)] != values[0])
      throw UsageError("distributed: rank " + std::to_string(r) + "'s " + what +
                       " differ from rank 0's (" +
                       first_difference(values[0], values[static_cast<std::size_t>(r)], r) +
                       "); every rank must run the same command on the same data");
  }
}

double Distributed::max_parameter_difference(const std::vector<torch::Tensor>& params) {
  if (!active()) return 0.0;
  std::vector<torch::Tensor> flat;
  for (const auto& p : params)
    flat.push_back(p.detach().reshape({-1}).to(torch::kCPU, torch::kFloat64));
  torch::Tensor mine = flat.empty() ? torch::zeros({0}, torch::kFloat64) : torch::cat(flat);
  // Rank 0's values reach every rank by a sum in which the other ranks put zeros.
  std::vector<torch::Tensor> zero{main() ? mine.clone() : torch::zeros_like(mine)};
  allreduce_sum(zero, "comparing parameters");
  std::vector<torch::Tensor> diff{(mine - zero[0]).abs().max().reshape({1})};
  if (mine.numel() == 0) diff[0] = torch::zeros({1}, torch::kFloat64);
  // The largest over the ranks: max through a sum of one-hot entries is enough for tests.
  std::vector<torch::Tensor> all{torch::zeros({world_}, torch::kFloat64)};
  all[0][rank_] = diff[0][0];
  allreduce_sum(all, "comparing parameters");
  return all[0].max().item<double>();
}

#else  // no c10d with Gloo in this build

struct Distributed::Impl {};

bool distributed_available() {
  return false;
}

void Distributed::join(const DistJob& job) {
  if (job.distributed())
    throw Error(
        "this build of loid has no c10d with Gloo (libgloo-dev was missing at build time), so it "
        "cannot run several processes; rebuild after `apt-get install libgloo-dev`");
}
Distributed::~Distributed() = default;
void Distributed::allreduce_sum(std::vector<torch::Tensor>&, const std::string&) {}
double Distributed::sum(double value, const std::string&) {
  return value;
}
double Distributed::same_everywhere(double value) {
  return value;
}
void Distributed::allreduce_gradients(const std::vector<torch::Tensor>&) {}
torch::Tensor Distributed::gather_rows(const torch::Tensor& local, std::int64_t) {
  return local;
}
void Distributed::barrier(const std::string&) {}
void Distributed::meet(const std::string&, double) {}
void Distributed::agree(const std::string&, const std::string&) {}
double Distributed::max_parameter_difference(const std::vector<torch::Tensor>&) {
  return 0.0;
}

#endif

bool check_ranks_each_step() {
  const char* v = std::getenv("LOID_DIST_CHECK_PARAMS");
  return v != nullptr && std::string(v) == "1";
}

std::pair<std::int64_t, std::int64_t> Distributed::shard(std::int64_t n) const {
  return {n * rank_ / world_, n * (rank_ + 1) / world_};
}

torch::Tensor encode_texts_sharded(Encoder& encoder, const std::vector<std::string>& texts,
                                   const EncodeOptions& options) {
  Distributed& dist = distributed();
  if (!dist.active()) return encode_texts(encoder, texts, options);
  const auto n = static_cast<std::int64_t>(texts.size());
  const auto [lo, hi] = dist.shard(n);
  const std::vector<std::string> mine(texts.begin() + lo, texts.begin() + hi);
  torch::Tensor local = encode_texts(encoder, mine, options);
  if (mine.empty()) local = torch::zeros({0, encoder.width()}, torch::kFloat32);
  return dist.gather_rows(local.contiguous(), n);
}

Distributed& distributed() {
  static Distributed instance;
  return instance;
}

void join_distributed(const DistJob& job) {
  if (!job.distributed()) return;
  distributed().join(job);
  if (job.rank != 0) Progress::set_quiet(true);
  set_thread_share(job.local_world_size);
}

}  // namespace loid
