#pragma once
// Factories of the individual backends; make_face_detector() picks one by name.
#include <memory>
#include <string>

#include "dfscan/faces.hpp"

namespace dfscan::faces::detail {

// cascade_file: file name under haarcascades/ or lbpcascades/ of opencv-data.
std::unique_ptr<FaceDetector> make_cascade_detector(const std::string& name, const std::string& cascade_file,
                                                    int default_min_neighbors, double default_scale_factor,
                                                    const DetectorOptions& options);
std::unique_ptr<FaceDetector> make_dlib_hog_detector(const DetectorOptions& options);
std::unique_ptr<FaceDetector> make_yunet_detector(const std::string& model_path,
                                                  const DetectorOptions& options);

}  // namespace dfscan::faces::detail
