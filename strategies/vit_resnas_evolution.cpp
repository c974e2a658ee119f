#include "strategies/vit_resnas_evolution.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include "core/error.hpp"

namespace nascent {

namespace {

bool chance(Rng& rng, double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; }

template <typename T>
T pick(const std::vector<T>& values, Rng& rng) {
  return values[uniform_index(rng, values.size())];
}

// The next smaller choice after `value` in a descending list, or `value` when it is the smallest.
std::int64_t smaller(const std::vector<std::int64_t>& descending, std::int64_t value) {
  auto it = std::find(descending.begin(), descending.end(), value);
  return it == descending.end() || it + 1 == descending.end() ? value : *(it + 1);
}

}  // namespace

bool sample_vit_in_window(const VitSpaceSpec& spec, const std::function<double(const VitArch&)>& macs, double low, double high,
                          Rng& rng, VitArch& out, int max_tries) {
  VitArch arch = spec.largest();
  bool reached = false;
  for (int t = 0; t < max_tries && !reached; ++t) {
    arch = spec.largest();
    for (std::size_t s = 0; s < spec.stages.size(); ++s) {
      arch.embed[s] = pick(spec.stages[s].embeds, rng);
      for (std::size_t b = 0; b < arch.blocks[s].size(); ++b)
        arch.blocks[s][b].exists = !spec.stages[s].removable[b] || chance(rng, 0.5);
    }
    reached = macs(arch) >= low;
  }
  if (!reached) return false;
  for (int steps = 0; macs(arch) > high && steps < max_tries; ++steps) {
    std::vector<std::pair<std::size_t, std::size_t>> blocks;
    for (std::size_t s = 0; s < arch.blocks.size(); ++s)
      for (std::size_t b = 0; b < arch.blocks[s].size(); ++b)
        if (arch.blocks[s][b].exists) blocks.emplace_back(s, b);
    const std::size_t kinds = steps >= 100 ? 4 : 2;
    const std::size_t kind = uniform_index(rng, kinds);
    const auto [s, b] = blocks[uniform_index(rng, blocks.size())];
    const auto& choices = spec.stages[s];
    if (kind == 0) {
      arch.blocks[s][b].heads = smaller(choices.heads, arch.blocks[s][b].heads);
    } else if (kind == 1) {
      arch.blocks[s][b].mlp = smaller(choices.mlps, arch.blocks[s][b].mlp);
    } else if (kind == 2) {
      arch.embed[s] = smaller(choices.embeds, arch.embed[s]);
    } else if (choices.removable[b]) {
      arch.blocks[s][b].exists = false;
    }
  }
  arch = spec.normalised(arch);
  const double m = macs(arch);
  if (m < low || m > high) return false;
  out = arch;
  return true;
}

std::vector<VitCandidate> vit_resnas_evolution(const VitSpaceSpec& spec, const std::function<double(const VitArch&)>& macs,
                                               const std::function<std::vector<double>(const std::vector<VitArch>&)>& fitness,
                                               double macs_max, const VitEvolutionOptions& options, Rng& rng,
                                               const std::function<void(int, const VitCandidate&)>& progress) {
  if (options.initial_population < 1 || options.iterations < 1) throw Error("config: strategy.evolution needs a population and at least one iteration");
  if (options.parents < 1) throw Error("config: strategy.evolution.parents must be at least 1");
  if (!(options.window_low > 0 && options.window_low <= 1)) throw Error("config: strategy.evolution.window_low must be in (0, 1]");
  const double low = options.window_low * macs_max;
  if (macs(spec.smallest()) > macs_max) {
    std::ostringstream message;
    message << "evolution: even the smallest network has " << macs(spec.smallest()) << " MACs, above strategy.constraint.macs " << macs_max;
    throw Error(message.str());
  }
  if (macs(spec.largest()) < low) {
    std::ostringstream message;
    message << "evolution: even the largest network has only " << macs(spec.largest()) << " MACs, below the window's " << low;
    throw Error(message.str());
  }
  std::vector<VitCandidate> history;
  std::set<std::string> seen;
  const auto in_window = [&](const VitArch& a) {
    const double m = macs(a);
    return m >= low && m <= macs_max;
  };
  const auto add_batch = [&](const std::vector<VitArch>& batch, int iteration) {
    const std::vector<double> scores = fitness(batch);
    for (std::size_t i = 0; i < batch.size(); ++i) history.push_back({batch[i], macs(batch[i]), scores[i], iteration});
    std::stable_sort(history.begin(), history.end(), [](const VitCandidate& a, const VitCandidate& b) { return a.fitness > b.fitness; });
    if (progress) progress(iteration, history.front());
  };
  std::vector<VitArch> batch;
  for (int tries = 0; static_cast<int>(batch.size()) < options.initial_population && tries < options.max_tries; ++tries) {
    VitArch arch;
    if (!sample_vit_in_window(spec, macs, low, macs_max, rng, arch, options.max_tries)) continue;
    if (seen.insert(print_vit_arch(arch)).second) batch.push_back(arch);
  }
  if (batch.empty()) throw Error("evolution: random sampling found no network inside the MACs window; widen strategy.evolution.window_low");
  add_batch(batch, 0);
  for (int iteration = 1; iteration < options.iterations; ++iteration) {
    const std::size_t parent_count = std::min<std::size_t>(static_cast<std::size_t>(options.parents), history.size());
    std::vector<VitArch> children;
    const auto try_child = [&](const std::function<VitArch()>& make) {
      for (int t = 0; t < options.max_tries; ++t) {
        VitArch child = spec.normalised(make());
        if (!in_window(child)) continue;
        if (!seen.insert(print_vit_arch(child)).second) continue;
        children.push_back(child);
        return;
      }
    };
    for (int i = 0; i < options.mutations; ++i) {
      try_child([&] {
        VitArch arch = history[uniform_index(rng, parent_count)].arch;
        for (std::size_t s = 0; s < arch.embed.size(); ++s) {
          const auto& choices = spec.stages[s];
          if (chance(rng, options.mutate_prob)) arch.embed[s] = pick(choices.embeds, rng);
          for (std::size_t b = 0; b < arch.blocks[s].size(); ++b) {
            auto& block = arch.blocks[s][b];
            if (chance(rng, options.mutate_prob)) block.heads = pick(choices.heads, rng);
            if (chance(rng, options.mutate_prob)) block.mlp = pick(choices.mlps, rng);
            if (choices.removable[b] && chance(rng, options.mutate_prob)) block.exists = !block.exists;
          }
        }
        return arch;
      });
    }
    if (parent_count >= 2) {
      for (int i = 0; i < options.crossovers; ++i) {
        try_child([&] {
          const std::size_t a = uniform_index(rng, parent_count);
          std::size_t b = uniform_index(rng, parent_count - 1);
          if (b >= a) ++b;
          VitArch child = history[a].arch;
          const VitArch& other = history[b].arch;
          for (std::size_t s = 0; s < child.embed.size(); ++s) {
            if (chance(rng, 0.5)) child.embed[s] = other.embed[s];
            for (std::size_t j = 0; j < child.blocks[s].size(); ++j) {
              if (chance(rng, 0.5)) child.blocks[s][j].heads = other.blocks[s][j].heads;
              if (chance(rng, 0.5)) child.blocks[s][j].mlp = other.blocks[s][j].mlp;
              if (chance(rng, 0.5)) child.blocks[s][j].exists = other.blocks[s][j].exists;
            }
          }
          return child;
        });
      }
    }
    if (children.empty()) break;
    add_batch(children, iteration);
  }
  return history;
}

}  // namespace nascent
