#include "strategies/nsga2.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "core/error.hpp"

namespace nascent {

namespace {

// a dominates b: at least as good everywhere and better somewhere; feasible beats infeasible.
bool dominates(const std::optional<std::vector<double>>& a, const std::optional<std::vector<double>>& b) {
  if (!a) return false;
  if (!b) return true;
  bool better = false;
  for (std::size_t m = 0; m < a->size(); ++m) {
    if ((*a)[m] < (*b)[m]) return false;
    better = better || (*a)[m] > (*b)[m];
  }
  return better;
}

}  // namespace

std::vector<std::vector<std::size_t>> non_dominated_fronts(const std::vector<std::optional<std::vector<double>>>& values) {
  const std::size_t n = values.size();
  std::vector<std::vector<std::size_t>> dominated(n);
  std::vector<std::size_t> domination_count(n, 0);
  std::vector<std::vector<std::size_t>> fronts(1);
  for (std::size_t p = 0; p < n; ++p) {
    for (std::size_t q = 0; q < n; ++q) {
      if (dominates(values[p], values[q])) dominated[p].push_back(q);
      else if (dominates(values[q], values[p])) ++domination_count[p];
    }
    if (domination_count[p] == 0) fronts[0].push_back(p);
  }
  while (!fronts.back().empty()) {
    std::vector<std::size_t> next;
    for (const std::size_t p : fronts.back())
      for (const std::size_t q : dominated[p])
        if (--domination_count[q] == 0) next.push_back(q);
    std::sort(next.begin(), next.end());
    fronts.push_back(std::move(next));
  }
  fronts.pop_back();
  return fronts;
}

std::vector<double> crowding_distances(const std::vector<std::optional<std::vector<double>>>& values, const std::vector<std::size_t>& front) {
  const double infinity = std::numeric_limits<double>::infinity();
  std::vector<double> distance(front.size(), 0.0);
  if (front.empty() || !values[front[0]]) return std::vector<double>(front.size(), infinity);
  const std::size_t objectives = values[front[0]]->size();
  std::vector<std::size_t> order(front.size());
  for (std::size_t m = 0; m < objectives; ++m) {
    std::iota(order.begin(), order.end(), 0);
    const auto value = [&](std::size_t i) { return (*values[front[i]])[m]; };
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return value(a) < value(b); });
    distance[order.front()] = distance[order.back()] = infinity;
    const double span = value(order.back()) - value(order.front());
    if (span <= 0) continue;
    for (std::size_t k = 1; k + 1 < order.size(); ++k) distance[order[k]] += (value(order[k + 1]) - value(order[k - 1])) / span;
  }
  return distance;
}

Nsga2::Nsga2(const SearchSpace& space, Options options) : space_(space), options_(options) {
  if (options_.population < 2) throw Error("config: strategy.population must be at least 2");
  if (!(options_.crossover >= 0 && options_.crossover <= 1)) throw Error("config: strategy.crossover must be in [0, 1]");
}

std::vector<std::string> Nsga2::ask(std::size_t count, Rng& rng) {
  if (queue_.empty() && asked_in_generation_ == generation_size_ && incoming_.empty()) {
    // A new generation: the first is sampled, later ones are children of tournament winners.
    parents_.clear();
    generation_size_ = options_.population;
    asked_in_generation_ = 0;
    // Children repeat neither an evaluated architecture nor one another while a new one can be
    // found (a repeat would cost nothing but crowd the population with copies). Repeats are by
    // fingerprint: an isomorphic cell (NB201 has 6,466 distinct networks among 15,625 strings)
    // is the same network under another name.
    std::set<std::string> queued;
    for (std::size_t i = 0; i < options_.population; ++i) {
      std::string child, parent, identity;
      for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
        if (population_.empty()) {
          child = space_.sample(rng);
        } else {
          parent = tournament(rng).arch;
          const auto* recombines = dynamic_cast<const CrossoverSpace*>(&space_);
          if (recombines && options_.crossover > 0 && uniform_real(rng) < options_.crossover) {
            // The child's lineage names the first parent.
            child = space_.mutate(recombines->crossover(parent, tournament(rng).arch, rng), rng);
          } else {
            child = space_.mutate(parent, rng);
          }
        }
        identity = space_.fingerprint(child);
        if (!evaluated_.count(identity) && !queued.count(identity)) break;
      }
      queued.insert(identity);
      queue_.push_back(child);
      if (!parent.empty()) parents_[child] = parent;
    }
  }
  std::vector<std::string> batch;
  while (batch.size() < count && !queue_.empty()) {
    batch.push_back(queue_.front());
    queue_.erase(queue_.begin());
    ++asked_in_generation_;
  }
  return batch;
}

void Nsga2::tell(const std::string& arch, std::optional<double> fitness) {
  tell_objectives(arch, fitness ? std::optional<std::vector<double>>(std::vector<double>{*fitness}) : std::nullopt);
}

void Nsga2::tell_objectives(const std::string& arch, const std::optional<std::vector<double>>& values) {
  evaluated_.insert(space_.fingerprint(arch));
  incoming_.push_back(Member{arch, values});
  if (incoming_.size() == generation_size_) select();
}

void Nsga2::select() {
  std::vector<Member> all = population_;
  all.insert(all.end(), incoming_.begin(), incoming_.end());
  incoming_.clear();
  std::vector<std::optional<std::vector<double>>> values;
  for (const Member& m : all) values.push_back(m.values);
  std::vector<Member> next;
  const auto fronts = non_dominated_fronts(values);
  for (std::size_t rank = 0; rank < fronts.size() && next.size() < options_.population; ++rank) {
    const std::vector<double> crowding = crowding_distances(values, fronts[rank]);
    std::vector<std::size_t> order(fronts[rank].size());
    std::iota(order.begin(), order.end(), 0);
    // The last front that fits only partly keeps its least crowded members.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return crowding[a] > crowding[b]; });
    for (const std::size_t k : order) {
      if (next.size() == options_.population) break;
      Member member = all[fronts[rank][k]];
      member.rank = rank;
      member.crowding = crowding[k];
      next.push_back(std::move(member));
    }
  }
  population_ = std::move(next);
}

const Nsga2::Member& Nsga2::tournament(Rng& rng) const {
  const Member& a = population_[uniform_index(rng, population_.size())];
  const Member& b = population_[uniform_index(rng, population_.size())];
  if (a.rank != b.rank) return a.rank < b.rank ? a : b;
  return b.crowding > a.crowding ? b : a;
}

std::optional<std::string> Nsga2::parent_of(const std::string& child) const {
  const auto found = parents_.find(child);
  if (found == parents_.end()) return std::nullopt;
  return found->second;
}

std::vector<std::string> Nsga2::population() const {
  std::vector<std::string> archs;
  for (const Member& m : population_) archs.push_back(m.arch);
  return archs;
}

}  // namespace nascent
