// Errors of the OpenAI-compatible API: an HTTP status and the JSON body OpenAI clients parse,
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
#pragma once
#include <stdexcept>
#include <string>

#include "io/json_file.h"

namespace dsv3::server {

struct ApiError : std::runtime_error {
  int status;
  std::string type, param, code;
  ApiError(int status_, std::string message, std::string param_ = "", std::string code_ = "")
      : std::runtime_error(std::move(message)), status(status_), type(type_for(status_)), param(std::move(param_)),
        code(std::move(code_)) {}

  json body() const {
    json e = {{"message", what()}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
    if (!param.empty()) e["param"] = param;
    if (!code.empty()) e["code"] = code;
    return json{{"error", e}};
  }

  static std::string type_for(int status) {
    switch (status) {
      case 401: return "authentication_error";
      case 404: return "not_found_error";
      case 413: return "invalid_request_error";
      case 429: return "rate_limit_error";
      case 503: return "service_unavailable";
      default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
  }
};

}  // namespace dsv3::server
