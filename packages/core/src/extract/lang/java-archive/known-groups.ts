/**
 * Maven groups of artifacts that are commonly shipped without pom.properties (built by Gradle, Ant, sbt or old
 * Maven 1 setups) and whose manifests name no group. Curated from Maven Central coordinates; checked against a
 * local Maven repository (the group is the repository path). Exact names unless the key ends with `-` (prefix).
 */
const EXACT: ReadonlyArray<readonly [group: string, artifacts: string]> = [
  ['org.springframework', 'spring-aop spring-aspects spring-beans spring-context spring-context-indexer spring-context-support spring-core spring-expression spring-instrument spring-jcl spring-jdbc spring-jms spring-messaging spring-orm spring-oxm spring-r2dbc spring-test spring-tx spring-web spring-webflux spring-webmvc spring-websocket'],
  ['org.springframework.boot', 'spring-boot spring-boot-autoconfigure spring-boot-actuator spring-boot-actuator-autoconfigure spring-boot-loader spring-boot-devtools spring-boot-test spring-boot-test-autoconfigure spring-boot-configuration-processor spring-boot-docker-compose spring-boot-testcontainers spring-boot-properties-migrator'],
  ['org.springframework.kafka', 'spring-kafka spring-kafka-test'],
  ['org.springframework.amqp', 'spring-amqp spring-rabbit spring-rabbit-stream spring-rabbit-test'],
  ['org.springframework.hateoas', 'spring-hateoas'],
  ['org.springframework.retry', 'spring-retry'],
  ['org.springframework.graphql', 'spring-graphql spring-graphql-test'],
  ['org.jetbrains.kotlin', 'kotlin-stdlib kotlin-stdlib-common kotlin-stdlib-jdk7 kotlin-stdlib-jdk8 kotlin-reflect kotlin-script-runtime kotlin-compiler kotlin-compiler-embeddable kotlin-daemon-embeddable kotlin-daemon-client kotlin-test kotlin-test-junit kotlin-test-junit5 kotlin-annotations-jvm'],
  ['com.h2database', 'h2'],
  ['com.squareup.okio', 'okio okio-jvm'],
  ['com.google.protobuf', 'protobuf-java protobuf-java-util protobuf-javalite protobuf-kotlin'],
  ['net.java.dev.jna', 'jna jna-platform'],
  ['org.ow2.asm', 'asm asm-analysis asm-commons asm-tree asm-util'],
  ['com.jayway.jsonpath', 'json-path'],
  ['org.checkerframework', 'checker-qual'],
  ['org.reactivestreams', 'reactive-streams'],
  ['org.objenesis', 'objenesis'],
  ['org.hamcrest', 'hamcrest hamcrest-core hamcrest-library'],
  ['com.github.ben-manes.caffeine', 'caffeine'],
  ['org.scala-lang', 'scala-library scala-reflect scala-compiler'],
  ['info.picocli', 'picocli'],
  ['org.apiguardian', 'apiguardian-api'],
  ['org.opentest4j', 'opentest4j'],
  ['io.projectreactor', 'reactor-core reactor-test'],
  // Apache Commons: the old components keep group == artifact, the renamed ones moved to org.apache.commons
  ['commons-beanutils', 'commons-beanutils'],
  ['commons-cli', 'commons-cli'],
  ['commons-codec', 'commons-codec'],
  ['commons-collections', 'commons-collections'],
  ['commons-digester', 'commons-digester'],
  ['commons-fileupload', 'commons-fileupload'],
  ['commons-httpclient', 'commons-httpclient'],
  ['commons-io', 'commons-io'],
  ['commons-lang', 'commons-lang'],
  ['commons-logging', 'commons-logging'],
  ['commons-net', 'commons-net'],
  ['commons-pool', 'commons-pool'],
  ['commons-dbcp', 'commons-dbcp'],
  ['commons-validator', 'commons-validator'],
  ['org.apache.commons', 'commons-lang3 commons-text commons-collections4 commons-compress commons-configuration2 commons-dbcp2 commons-pool2 commons-math3 commons-csv commons-exec commons-email commons-fileupload2-core commons-jexl3 commons-vfs2'],
];

const PREFIXES: ReadonlyArray<readonly [prefix: string, group: string]> = [
  ['spring-boot-starter', 'org.springframework.boot'],
  ['spring-security-', 'org.springframework.security'],
  ['spring-data-', 'org.springframework.data'],
  ['spring-cloud-', 'org.springframework.cloud'],
  ['spring-session-', 'org.springframework.session'],
  ['spring-integration-', 'org.springframework.integration'],
  ['spring-batch-', 'org.springframework.batch'],
  ['spring-ws-', 'org.springframework.ws'],
  ['spring-vault-', 'org.springframework.vault'],
  ['tomcat-embed-', 'org.apache.tomcat.embed'],
  ['kotlinx-coroutines-', 'org.jetbrains.kotlinx'],
  ['kotlinx-serialization-', 'org.jetbrains.kotlinx'],
  ['kotlin-scripting-', 'org.jetbrains.kotlin'],
  ['micrometer-', 'io.micrometer'],
  ['reactor-netty', 'io.projectreactor.netty'],
  ['opentelemetry-semconv', 'io.opentelemetry.semconv'],
  ['opentelemetry-instrumentation-', 'io.opentelemetry.instrumentation'],
  ['opentelemetry-', 'io.opentelemetry'],
  ['junit-jupiter', 'org.junit.jupiter'],
  ['junit-platform-', 'org.junit.platform'],
  ['junit-vintage-', 'org.junit.vintage'],
];

const BY_NAME: ReadonlyMap<string, string> = new Map(EXACT.flatMap(([group, names]) => names.split(' ').map((n) => [n, group] as const)));

/** The group of a well-known artifact, or null. okhttp is special: its group changed with the major version. */
export function knownGroupOf(artifact: string, version: string | null): string | null {
  const exact = BY_NAME.get(artifact);
  if (exact) return exact;
  if (artifact === 'okhttp' || artifact === 'logging-interceptor') {
    const major = version === null ? NaN : parseInt(version, 10);
    return major >= 3 ? 'com.squareup.okhttp3' : major > 0 ? 'com.squareup.okhttp' : null;
  }
  for (const [prefix, group] of PREFIXES) if (artifact.startsWith(prefix)) return group;
  return null;
}
