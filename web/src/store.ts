// What survives a reload, in IndexedDB (through `idb`): the user's head and the feedback it was trained on.
import { type DBSchema, type IDBPDatabase, openDB } from "idb";
import type { Head } from "./head";

export interface SavedHead {
  head: Head;
  savedAt: string;
  source: string; // "feedback" or "federated round N"
}

export interface Feedback {
  text: string;
  label: number;
}

interface Schema extends DBSchema {
  heads: { key: string; value: SavedHead };
  feedback: { key: number; value: Feedback };
}

const HEAD_KEY = "current";

export class Store {
  private constructor(private readonly db: IDBPDatabase<Schema>) {}

  static async open(name = "tinydetect"): Promise<Store> {
    const db = await openDB<Schema>(name, 1, {
      upgrade(database) {
        database.createObjectStore("heads");
        database.createObjectStore("feedback", { autoIncrement: true });
      },
    });
    return new Store(db);
  }

  async saveHead(head: Head, source: string): Promise<void> {
    await this.db.put("heads", { head, source, savedAt: new Date().toISOString() }, HEAD_KEY);
  }

  loadHead(): Promise<SavedHead | undefined> {
    return this.db.get("heads", HEAD_KEY);
  }

  async addFeedback(item: Feedback): Promise<void> {
    await this.db.add("feedback", item);
  }

  feedback(): Promise<Feedback[]> {
    return this.db.getAll("feedback");
  }

  async clear(): Promise<void> {
    await Promise.all([this.db.clear("heads"), this.db.clear("feedback")]);
  }
}
