// Result<T>: a value or an Error with context. Fallible operations return it;
// exceptions stay at start-up and config boundaries (conventions.md, habit 3).
#pragma once

#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace ambit {

// What kind of failure, so callers can branch without parsing messages.
enum class ErrorCode {
  kInvalidArgument,  // input (config, request, certificate) is malformed or not allowed
  kNotFound,
  kAlreadyExists,
  kUnavailable,      // a peer, file or service cannot be reached now; may work later
  kPermissionDenied,
  kUnauthenticated,
  kDeadlineExceeded,
  kResourceExhausted,
  kInternal,         // a bug or an impossible state
};

const char* errorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;  // operator-facing: says what failed and what to check

  // Prepends context, e.g. err.wrap("loading /etc/ambit/ztunnel.yaml").
  Error wrap(std::string_view context) const& {
    return Error{code, fmt::format("{}: {}", context, message)};
  }
};

template <typename... Args>
Error makeError(ErrorCode code, fmt::format_string<Args...> f, Args&&... args) {
  return Error{code, fmt::format(f, std::forward<Args>(args)...)};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}     // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status okStatus() { return {}; }

}  // namespace ambit
