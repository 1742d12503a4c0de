// Creates or replaces SCRAM-SHA-512 credentials on the embedded broker, in one Admin request.
// kafkajs has no AlterUserScramCredentials, so `factory up` runs this file with Java's
// single-file launcher and the broker's own jars: `java -cp '<kafka lib>/*' ScramUsers.java
// <bootstrap>`. Standard input: the admin's name and password on the first line (it signs in
// with PLAIN), then one "name password" line per account. Nothing secret is in the arguments,
// which every local user can read in the process list.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;

public class ScramUsers {
  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String[] admin = in.readLine().split(" ", 2);
    List<UserScramCredentialAlteration> upserts = new ArrayList<>();
    for (String line = in.readLine(); line != null && !line.isEmpty(); line = in.readLine()) {
      String[] account = line.split(" ", 2);
      upserts.add(new UserScramCredentialUpsertion(
          account[0], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), account[1]));
    }
    Properties props = new Properties();
    props.put("bootstrap.servers", args[0]);
    props.put("security.protocol", "SASL_PLAINTEXT");
    props.put("sasl.mechanism", "PLAIN");
    props.put("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\""
        + admin[0] + "\" password=\"" + admin[1] + "\";");
    props.put("default.api.timeout.ms", "30000");
    try (Admin client = Admin.create(props)) {
      client.alterUserScramCredentials(upserts).all().get(30, TimeUnit.SECONDS);
    }
    System.out.println("upserted " + upserts.size() + " SCRAM-SHA-512 accounts");
  }
}
