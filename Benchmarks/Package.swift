// swift-tools-version: 6.1
// Benchmarks live in their own package so the product's build and CI never compile them.
import PackageDescription

let package = Package(
    name: "onced-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "onced", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "engine-throughput",
            dependencies: [.product(name: "OnceEngine", package: "onced")],
            swiftSettings: [.unsafeFlags(["-Ounchecked"])]
        ),
        .executableTarget(
            name: "query-latency",
            dependencies: [.product(name: "OnceEngine", package: "onced")]
        ),
        .executableTarget(
            name: "rule-chain",
            dependencies: [.product(name: "OnceEngine", package: "onced")]
        ),
        .executableTarget(
            name: "shadow-cost",
            dependencies: [.product(name: "OnceEngine", package: "onced")]
        ),
    ]
)
