//! Cursor pagination shared by the lists: `limit` (1..=1000, default 100) and `cursor`, the id
//! below which the next page starts (lists are newest first).

use crate::error::ApiError;

pub struct Page {
    pub limit: u32,
    pub before: Option<i64>,
}

impl Page {
    pub fn parse(limit: Option<u32>, cursor: Option<&str>) -> Result<Page, ApiError> {
        let limit = limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::invalid(
                "invalid-limit",
                "limit",
                "limit must be between 1 and 1000",
            ));
        }
        let before = cursor
            .map(|c| {
                c.parse::<i64>().map_err(|_| {
                    ApiError::invalid("invalid-cursor", "cursor", "not a cursor from this API")
                })
            })
            .transpose()?;
        Ok(Page { limit, before })
    }

    /// The cursor of the next page: the last id, when the page was full.
    pub fn next_cursor(&self, returned: usize, last_id: Option<i64>) -> Option<String> {
        (returned == self.limit as usize)
            .then(|| last_id.map(|id| id.to_string()))
            .flatten()
    }
}
