// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "onced",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "OnceEngine", targets: ["OnceEngine"]),
        .library(name: "OncePostgres", targets: ["OncePostgres"]),
        .executable(name: "onced", targets: ["onced"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    ],
    targets: [
        .systemLibrary(
            name: "CLua",
            pkgConfig: "lua5.4",
            providers: [.apt(["liblua5.4-dev"])]
        ),
        // Rule budgets and the budgeted property loop: C with state of its own, compiled once.
        .target(
            name: "CLuaBudget",
            dependencies: ["CLua"]
        ),
        .target(
            name: "OnceEngine",
            dependencies: [
                "CLua",
                "CLuaBudget",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "OncePostgres",
            dependencies: [
                "OnceEngine",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "onced",
            dependencies: [
                "OnceEngine",
                "OncePostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "OnceFuzz",
            dependencies: ["OnceEngine"]
        ),
        .executableTarget(
            name: "onced-fuzz",
            dependencies: ["OnceFuzz"]
        ),
        .executableTarget(
            name: "embed-example",
            dependencies: ["OnceEngine"],
            path: "Examples/EmbedEngine"
        ),
        .systemLibrary(
            name: "CSpawn",
            path: "Tests/CSpawn"
        ),
        .target(
            name: "TestSupport",
            dependencies: [
                "OnceEngine", "OncePostgres", "CSpawn",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "OnceEngineTests",
            dependencies: ["OnceEngine", "OncePostgres", "OnceFuzz", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["OnceEngine", "TestSupport", "onced", "embed-example"]
        ),
    ]
)
