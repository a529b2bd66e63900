// Error types of the library. Library code throws; only the CLI turns errors into exit codes.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace loid {

// Any failure the library reports to its caller.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Bad input from a user-supplied file: carries the file and (when known) the 1-based line.
class InputError : public Error {
 public:
  InputError(std::string file, std::int64_t line, const std::string& problem)
      : Error(format(file, line, problem)),
        file_(std::move(file)),
        line_(line),
        problem_(problem) {}
  const std::string& file() const { return file_; }
  std::int64_t line() const { return line_; }  // 0 when the problem is not tied to a line
  const std::string& problem() const { return problem_; }

 private:
  static std::string format(const std::string& file, std::int64_t line, const std::string& p) {
    return line > 0 ? file + ":" + std::to_string(line) + ": " + p : file + ": " + p;
  }
  std::string file_;
  std::int64_t line_;
  std::string problem_;
};

// Wrong use of an API or an invalid option value.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what) {}
};

}  // namespace loid
